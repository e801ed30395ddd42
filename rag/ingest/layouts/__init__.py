"""One module per transcript layout family; each has `detect(text) -> bool` and `parse(text) -> Parsed`."""
