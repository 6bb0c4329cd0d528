//! Routes as data: axum's `Router` cannot list its routes, so the functions register theirs
//! through [`Routes`], which builds the router and keeps each (method, path template) it was
//! given. The OpenAPI test compares that table with the document.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

/// One route: its method and its path template as axum matches it
/// (`/api/v1/integrations/{connectionId}`).
pub type Route = (Method, &'static str);

/// A router and the table of the routes it serves.
pub struct Routes<S = ()> {
    router: Router<S>,
    table: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self { router: Router::new(), table: Vec::new() }
    }

    /// Serves `method` on `path` with `handler`. A GET route answers HEAD too, as axum's do.
    ///
    /// # Panics
    /// When the method is not one axum routes by, or the route is already registered.
    #[track_caller]
    pub fn on<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!self.table.contains(&(method.clone(), path)), "{method} {path} is registered twice");
        self.router = self.router.route(path, on(filter, handler));
        self.table.push((method, path));
        self
    }

    #[track_caller]
    pub fn get<H: Handler<T, S>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::GET, path, handler)
    }

    #[track_caller]
    pub fn post<H: Handler<T, S>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::POST, path, handler)
    }

    #[track_caller]
    pub fn put<H: Handler<T, S>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::PUT, path, handler)
    }

    #[track_caller]
    pub fn patch<H: Handler<T, S>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::PATCH, path, handler)
    }

    #[track_caller]
    pub fn delete<H: Handler<T, S>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::DELETE, path, handler)
    }

    /// Both routers' routes, and both tables.
    ///
    /// # Panics
    /// When the two serve the same route (axum refuses overlapping routes too).
    #[track_caller]
    pub fn merge(mut self, other: Routes<S>) -> Self {
        for (method, path) in &other.table {
            assert!(!self.table.contains(&(method.clone(), *path)), "{method} {path} is registered twice");
        }
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Gives the handlers their state, as [`Router::with_state`].
    pub fn with_state<S2>(self, state: S) -> Routes<S2> {
        Routes { router: self.router.with_state(state), table: self.table }
    }

    /// The routes served, in the order they were registered.
    pub fn table(&self) -> &[Route] {
        &self.table
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> From<Routes<S>> for Router<S> {
    fn from(routes: Routes<S>) -> Self {
        routes.into_router()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn sample() -> Routes {
        let items = Routes::new().get("/items", || async { "list" }).post("/items", || async { "created" });
        items.merge(Routes::new().delete("/items/{id}", || async { StatusCode::NO_CONTENT }))
    }

    async fn status(router: Router, method: Method, path: &str) -> StatusCode {
        let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        router.oneshot(request).await.unwrap().status()
    }

    #[test]
    fn the_table_lists_every_registered_route_in_order() {
        let expected = [(Method::GET, "/items"), (Method::POST, "/items"), (Method::DELETE, "/items/{id}")];
        assert_eq!(sample().table(), expected);
    }

    #[tokio::test]
    async fn the_router_serves_exactly_the_routes_of_the_table() {
        assert_eq!(status(sample().into(), Method::GET, "/items").await, StatusCode::OK);
        assert_eq!(status(sample().into(), Method::POST, "/items").await, StatusCode::OK);
        assert_eq!(status(sample().into(), Method::DELETE, "/items/7").await, StatusCode::NO_CONTENT);
        assert_eq!(status(sample().into(), Method::PUT, "/items").await, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(status(sample().into(), Method::GET, "/other").await, StatusCode::NOT_FOUND);
    }

    #[test]
    #[should_panic(expected = "GET /items is registered twice")]
    fn a_route_registered_twice_is_refused() {
        let _ = sample().merge(Routes::new().get("/items", || async { "again" }));
    }
}
