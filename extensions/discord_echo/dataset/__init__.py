"""Stage 3, dataset: from messages to the training files the webui reads.

participants (who is "me") -> cleaning -> privacy -> conversations -> samples (within the token budget) ->
writer; `pipeline` runs the whole road as one call. Imports core, ingest and templates.
"""
