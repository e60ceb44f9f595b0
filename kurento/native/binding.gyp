{
  "targets": [
    {
      "target_name": "srtp_send",
      "sources": ["srtp-send.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
