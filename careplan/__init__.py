"""careplan: chronic-disease care plans for pharmacy chains (the domain; no HTTP here)."""
