"""Mail into case threads: reply addresses, inbound parsing, matching, ingestion and IMAP polling."""
