"""Amazon Web Services (not the SP-API): the SQS queue SP-API notifications arrive in."""
