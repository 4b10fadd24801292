"""Ingestion of departmental files (数据归集): readers, validation, quarantine, batches.

Public entry points:

- `ingest_file(warehouse, source_id, path, loaded_by="cli", period=None) -> BatchResult`:
  one file → one batch, written in one transaction (see `jingxin.ingest.service`);
- `ingest_directory(warehouse, folder)`: a folder (e.g. a generated province) in dependency
  order, using its manifest.json;
- `IngestError`: a file refused whole, with a Chinese message for the sender;
- `IngestLimits` (`jingxin.ingest.limits`): what one file may cost to read, from the settings;
- `jingxin.ingest.batches`: the batch registry and quarantined rows as the CLI and web read them;
- `jingxin.ingest.docs.render_data_exchange()`: docs/data-exchange.md from the contracts.
"""

from jingxin.ingest.directory import ingest_directory
from jingxin.ingest.errors import IngestError
from jingxin.ingest.limits import IngestLimits
from jingxin.ingest.service import BatchResult, ingest_file

__all__ = ["BatchResult", "IngestError", "IngestLimits", "ingest_directory", "ingest_file"]
