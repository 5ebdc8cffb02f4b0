// The job layer stands on the base (files, JSON, names); whoever imports it sees the base too.
@_exported import DubdeckBase
