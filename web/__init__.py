"""careplan's HTTP side: thin routes that parse, call careplan/, and render."""
