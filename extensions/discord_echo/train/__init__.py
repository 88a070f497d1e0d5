"""Stage 4, train: settings and hardware profiles, the memory estimate, the driver, and the hosts.

`driver.train(request, host)` checks a run once and hands it to a `host.Host`: `standalone` (transformers +
peft) or `webui` (text-generation-webui's own trainer). Imports core, templates and dataset.
"""
