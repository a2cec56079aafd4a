"""Stage 1 of the data flow: text files -> decoded text -> vocabulary and ids (cached on disk)."""
