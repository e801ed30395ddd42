"""Earnings-call Q&A assistant: ingest, chunk, index, retrieve and answer with verified citations.

Importing this package is cheap: heavy libraries (torch, sentence-transformers, faiss, jieba)
load inside the functions that need them.
"""

__version__ = "0.1.0"
