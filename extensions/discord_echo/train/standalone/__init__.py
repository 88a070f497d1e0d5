"""The standalone host: transformers + peft + torch, with the webui trainer's data semantics."""
