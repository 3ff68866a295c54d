"""Pure order logic: no I/O, no Faust, no SQLAlchemy. Time comes in as an argument."""
