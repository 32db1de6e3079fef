-- forget the label state watermark (the new one is inserted next)
delete from label_state
