"""Export a built dataset and our training settings for the engines people scale on: axolotl, LLaMA-Factory, TRL."""
