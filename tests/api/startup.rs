//! Start-up checks: the encryption key must open the secrets already in the database.

use sonar_slack::testing::app::SpawnedApp;

use crate::helpers::*;

#[tokio::test]
async fn a_key_that_cannot_open_the_database_secrets_is_refused() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        app.crash().await;

        let mut wrong = settings_for(&db, &fake);
        wrong.encryption_key = Some(secrecy::SecretString::from(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            [7u8; 32],
        )));
        let err = SpawnedApp::start(wrong).err().expect("refused").to_string();
        assert!(err.contains("cannot be opened with"), "{err}");

        let dir = tempfile::tempdir().expect("dir");
        let mut lost = settings_for(&db, &fake);
        lost.encryption_key = None;
        lost.key_file = Some(dir.path().join("gone.key"));
        let err = SpawnedApp::start(lost).err().expect("refused").to_string();
        assert!(err.contains("is missing"), "{err}");
        assert!(
            !dir.path().join("gone.key").exists(),
            "no new key is made for sealed data"
        );

        let right = settings_for(&db, &fake);
        SpawnedApp::start(right)
            .expect("the right key starts")
            .crash()
            .await;
        db.cleanup().await;
    }
}
