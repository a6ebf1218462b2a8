"""Independent scrutiny arrangements and links to other strategic boards."""
