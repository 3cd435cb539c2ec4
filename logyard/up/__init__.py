"""`logyard up`: the server and the agent on one machine, with sources found automatically."""
