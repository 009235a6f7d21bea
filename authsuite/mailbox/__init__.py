"""Demo-only mailbox: an email backend that keeps sent mail in the database, and a
DEBUG-only page listing it with its links, so flows can be finished without SMTP."""
