"""File formats that sinks write and evaluation, datasets and readers read: the label video
(FFV1, pixel value = object id), DAVIS palette PNGs and ``objects.jsonl``. Codecs only: nothing
here knows of runs, sinks or the pipeline."""
