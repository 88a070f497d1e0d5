"""Stage 5, evaluate: base vs tuned on one loaded model, with held-out numbers and a report.

Model loading, the comparer, perplexity and warnings (metrics), topicality, speaker specificity and style
distance (echo_metrics), style statistics, the blind test, the Markdown report, the chat character, and the
compare session the tab, the CLI and the benchmarks share. Imports every earlier stage; no front end.
"""
