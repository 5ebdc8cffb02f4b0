// The layers below (the base: files, processes, JSON, names; the job) are part of what DubdeckCore
// offers: whoever imports DubdeckCore sees them, as before the split.
@_exported import DubdeckBase
@_exported import DubdeckJob
@_exported import DubdeckAudio
@_exported import DubdeckCharacters
