"""The API client of the shell: one configuration, one client, one informer.

``config`` loads where the API server is and who otelwire is (the
``kubernetes`` package's loaders: kubeconfigs with exec plugins, in-cluster
service accounts); ``client`` sends otelwire's raw JSON requests with retries;
``informing`` lists and watches a collection (the pod store and the standby's
mirror in ``otelwire.observe`` are informers).  Nothing here imports kopf; kopf's
own session is built from the same configuration by ``otelwire.handlers.login``.
"""
