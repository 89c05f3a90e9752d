"""Cases (问题线索): the closed loop from discovery to closure, across jurisdictions."""
