"""Where items come from on the web: yt-dlp pages and downloads, caption tracks, podcast feeds and
their episodes."""
