"""Snowflake sink: classified and feedback events merged in batches, committed only after Snowflake confirms."""
