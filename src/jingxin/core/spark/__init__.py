"""Spark as a province's cluster runs it: master and storage (config), the versioned folder
(storage), the connection's view of it (layer), the persistent catalog and the publish cycle."""
