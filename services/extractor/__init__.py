"""extractor: text, metadata and tables of each uploaded document, page by page."""
