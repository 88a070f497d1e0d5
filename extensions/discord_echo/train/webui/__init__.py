"""The webui host: text-generation-webui's own trainer (`modules/training.py`), its folders and loaded model."""
