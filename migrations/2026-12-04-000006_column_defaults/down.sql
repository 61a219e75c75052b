DROP TABLE stackctl_column_defaults;
