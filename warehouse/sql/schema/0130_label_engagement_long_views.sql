-- label_engagement gains long_views: organic views watched to the end or for LabelConfig.long_view_ms
-- (counted only where the duration is known)
alter table label_engagement add column if not exists long_views bigint default 0;
