"""analyzer: AI analysis (summary, key points, sentiment, topics) through a provider."""
