"""A small Flask-style blog: the example application of the framework (see blogapp/)."""
