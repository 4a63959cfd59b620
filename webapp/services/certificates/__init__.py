"""Certificates of attendance: their verification codes (`codes`), issuing and reading
them (`operations`), and the PDF each one is (`documents`, which hands a snapshot to the
renderer in `pdf`)."""
