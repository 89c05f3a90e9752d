"""The response to an issued alert (issue 13 points 6–7): response tasks for every listed enterprise of the
activated places, their checks with photo evidence, and the units' daily reports and episode summaries."""
