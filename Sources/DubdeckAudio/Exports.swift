// The audio layer stands on the job and the base; whoever imports it sees them too.
@_exported import DubdeckJob
