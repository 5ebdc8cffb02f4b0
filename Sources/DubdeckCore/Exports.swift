// The base layer (files, processes, JSON, names) is part of what DubdeckCore offers: whoever imports
// DubdeckCore sees it, as before the split.
@_exported import DubdeckBase
