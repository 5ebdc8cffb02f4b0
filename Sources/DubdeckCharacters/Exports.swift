// The character memory stands on the audio layer (and through it the job and the base).
@_exported import DubdeckAudio
