"""To-dos and notifications: the home page's work list and the messages each step of the work sends to the
bureau that must act next."""
