"""FAQ that understands paraphrases: semantic matching over the FAQ phrasings,
"猜你想问" suggestions and the unanswered-questions inbox.

Services (no Rasa imports): `data`, `tokenizer`, `training`, `embeddings`,
`index`, `matcher`, `settings`, `inbox` (its store: common/inbox_store.py). Rasa actions: `actions`.
Heavy libraries (torch, sentence-transformers) are imported lazily.
"""
