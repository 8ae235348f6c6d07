"""The reference catalog shipped with CareDeck (catalog.yaml), a package so it installs."""
