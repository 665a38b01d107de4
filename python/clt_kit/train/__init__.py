"""Training: the tokenizer, tiny base models (pretraining, cached) and SFT with accelerate."""
