"""Emergency reduction lists (应急减排清单): enterprises, one plant one policy, rules and targets."""
