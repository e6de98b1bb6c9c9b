"""Development tools, not needed in production: demo, embedded broker, local Snowflake, replay."""
