"""Stage 3, dataset: from messages to the training files the webui reads.

participants (who is "me") -> cleaning -> privacy -> conversations -> samples (within the token budget) ->
writer; `pipeline` runs the whole road as one call, streaming (`streaming` closes conversations as messages
come and shapes them at once, `spool` keeps the samples on disk until they are written). Imports core, ingest
and templates.
"""
