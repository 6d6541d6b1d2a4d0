//! The [`Store`] trait on [`SqliteStore`].

use super::*;

impl Store for SqliteStore {
    fn create_scenario(
        &self,
        name: &str,
        graph: &str,
        tags: &BTreeSet<String>,
    ) -> Result<ScenarioMeta, StoreError> {
        let created_at = SystemTime::now();
        self.writer.with_db(|db| {
            let err = self.err("create a scenario");
            let tx = db.conn.transaction().map_err(&err)?;
            tx.execute(
                "INSERT INTO scenarios (name, graph, created_at) VALUES (?1, ?2, ?3)",
                params![name, graph, time_to_sql(created_at)],
            )
            .map_err(&err)?;
            let id = ScenarioId(tx.last_insert_rowid() as u64);
            for tag in tags {
                tx.execute(
                    "INSERT INTO scenario_tags (scenario, tag) VALUES (?1, ?2)",
                    params![id.0 as i64, tag],
                )
                .map_err(&err)?;
            }
            tx.commit().map_err(&err)?;
            Ok(ScenarioMeta {
                id,
                name: name.to_owned(),
                graph: graph.to_owned(),
                tags: tags.clone(),
                created_at,
            })
        })
    }

    fn scenarios(&self) -> Result<Vec<ScenarioMeta>, StoreError> {
        self.readers.with("list scenarios", |conn| {
            let mut tags: HashMap<i64, BTreeSet<String>> = HashMap::new();
            let mut query = conn.prepare_cached("SELECT scenario, tag FROM scenario_tags")?;
            for row in query.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (scenario, tag) = row?;
                tags.entry(scenario).or_default().insert(tag);
            }
            let mut query = conn
                .prepare_cached("SELECT id, name, graph, created_at FROM scenarios ORDER BY id")?;
            let rows = query.query_map([], |r| {
                let id: i64 = r.get(0)?;
                Ok(ScenarioMeta {
                    id: ScenarioId(id as u64),
                    name: r.get(1)?,
                    graph: r.get(2)?,
                    tags: tags.remove(&id).unwrap_or_default(),
                    created_at: time_from_sql(r.get(3)?),
                })
            })?;
            rows.collect()
        })
    }

    fn rename_scenario(&self, id: ScenarioId, name: &str) -> Result<ScenarioMeta, StoreError> {
        self.update_scenario(id, |conn| {
            conn.execute(
                "UPDATE scenarios SET name = ?2 WHERE id = ?1",
                params![id.0 as i64, name],
            )
            .map(drop)
        })
    }

    fn tag_scenario(
        &self,
        id: ScenarioId,
        tag: &str,
        tagged: bool,
    ) -> Result<ScenarioMeta, StoreError> {
        self.update_scenario(id, |conn| {
            let sql = if tagged {
                "INSERT OR IGNORE INTO scenario_tags (scenario, tag) VALUES (?1, ?2)"
            } else {
                "DELETE FROM scenario_tags WHERE scenario = ?1 AND tag = ?2"
            };
            conn.execute(sql, params![id.0 as i64, tag]).map(drop)
        })
    }

    fn delete_scenario(&self, id: ScenarioId) -> Result<(), StoreError> {
        self.writer.with_db(|db| {
            let err = self.err("delete a scenario");
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let gone = tx
                .execute("DELETE FROM scenarios WHERE id = ?1", [id.0 as i64])
                .map_err(&err)?
                == 0;
            if gone {
                return Err(StoreError::NoScenario(id));
            }
            tx.execute_batch(&format!(
                "DELETE FROM versions WHERE scenario = {id} AND graph = '';
                 DELETE FROM submissions WHERE scenario = {id};
                 DELETE FROM scenario_tags WHERE scenario = {id};",
                id = id.0 as i64
            ))
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
            Ok(())
        })
    }

    fn next_submission_id(&self, scenario: ScenarioId) -> Result<SubmissionId, StoreError> {
        let now = time_to_sql(SystemTime::now());
        // Needs no complete tables: the journal may wait.
        self.writer.with_db_unfolded(|db| {
            db.conn
                .execute(
                    "INSERT INTO submissions (scenario, target, started_at, duration, pid) \
                     VALUES (?1, '', ?2, NULL, ?3)",
                    params![scenario.0 as i64, now, std::process::id()],
                )
                .map_err(self.err("start a submission"))?;
            Ok(SubmissionId(db.conn.last_insert_rowid() as u64))
        })
    }

    fn current_version(&self, slot: &SlotKey) -> Result<Option<Arc<VersionMeta>>, StoreError> {
        if let Some(pending) = self.writer.pending_current(slot) {
            return Ok(Some(pending));
        }
        if self.known.absent(slot) {
            return Ok(None);
        }
        let (scenario, graph) = owner_columns(&slot.owner);
        // Versions another process journaled are folded before they are read.
        let mut own_entries = Some(self.writer.own_journal_entries());
        loop {
            let read = self.readers.with("read a data node's version", |conn| {
                if let Some(own) = own_entries {
                    let entries: i64 = conn
                        .prepare_cached("SELECT count(*) FROM journal")?
                        .query_row([], |r| r.get(0))?;
                    if entries as usize > own {
                        return Ok(None);
                    }
                }
                let mut intern = interner();
                conn.prepare_cached(CURRENT_VERSION)?
                    .query_row(params![scenario, graph, &*slot.node], |r| {
                        version_at(r, 0, &mut intern)
                    })
                    .optional()
                    .map(|m| Some(m.map(Arc::new)))
            })?;
            match read {
                Some(version) => return Ok(version),
                None => {
                    self.writer.flush()?;
                    own_entries = None;
                }
            }
        }
    }

    fn current_versions(
        &self,
        owners: &[Owner],
        known: Option<ChangeToken>,
    ) -> Result<CurrentVersions, StoreError> {
        let token = self.writer.change_token()?;
        if known == Some(token) {
            self.known.activate(owners, token);
            return Ok(CurrentVersions::Unchanged);
        }
        // The tables, complete (another process may have journaled versions).
        self.writer.flush()?;
        let versions = self.readers.with("read current versions", |conn| {
            let mut intern = interner();
            let mut out = Vec::new();
            let mut query = conn.prepare_cached(CURRENT_VERSIONS)?;
            for owner in owners {
                let (scenario, graph) = owner_columns(owner);
                let mut rows = query.query(params![scenario, graph])?;
                while let Some(row) = rows.next()? {
                    let node: String = row.get(0)?;
                    let meta = version_at(row, 1, &mut intern)?;
                    out.push((
                        SlotKey {
                            owner: owner.clone(),
                            node: Arc::from(node),
                        },
                        Arc::new(meta),
                    ));
                }
            }
            Ok(out)
        })?;
        self.known.loaded(owners, &versions, token);
        Ok(CurrentVersions::Current { versions, token })
    }

    fn history(&self, slot: &SlotKey) -> Result<Vec<VersionMeta>, StoreError> {
        self.flush()?;
        let (scenario, graph) = owner_columns(&slot.owner);
        self.readers.with("read a data node's history", |conn| {
            let mut intern = interner();
            conn.prepare_cached(HISTORY)?
                .query_map(params![scenario, graph, &*slot.node], |r| {
                    version_at(r, 0, &mut intern)
                })?
                .collect()
        })
    }

    fn version(&self, slot: &SlotKey, version: u64) -> Result<Option<VersionMeta>, StoreError> {
        self.flush()?;
        let (scenario, graph) = owner_columns(&slot.owner);
        self.readers.with("read a version", |conn| {
            let mut intern = interner();
            conn.prepare_cached(VERSION)?
                .query_row(params![scenario, graph, &*slot.node, version as i64], |r| {
                    version_at(r, 0, &mut intern)
                })
                .optional()
        })
    }

    fn job_record(&self, slot: &SlotKey, version: u64) -> Result<Option<JobRecord>, StoreError> {
        self.flush()?;
        let (scenario, graph) = owner_columns(&slot.owner);
        self.readers.with("read a version's lineage", |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT v.task, v.task_key, v.submission, coalesce(v.code, l.code), \
                     coalesce(v.inputs, l.inputs), l.detail FROM versions v \
                     LEFT JOIN lineage l ON l.id = v.lineage \
                     WHERE v.scenario = ?1 AND v.graph = ?2 AND v.node = ?3 AND v.version = ?4 \
                     AND v.writer = 'task' AND coalesce(v.code, l.code) IS NOT NULL",
                )?
                .query_row(params![scenario, graph, &*slot.node, version as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        fingerprint_at(r, 1)?,
                        r.get::<_, i64>(2)?,
                        fingerprint_at(r, 3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, Option<Vec<u8>>>(5)?,
                    ))
                })
                .optional()?;
            let Some((task, key, submission, code, inputs, detail)) = row else {
                return Ok(None);
            };
            let inputs =
                unpack_inputs(&inputs).ok_or_else(|| rows::bad_column(4, "packed inputs"))?;
            let mut job = JobRecord {
                task: Arc::from(task),
                code,
                key: TaskKey(key),
                submission: SubmissionId(submission as u64),
                inputs,
                code_identity: None,
                env: Vec::new(),
            };
            if let Some(detail) = detail {
                rows::unpack_detail(&detail, &mut job);
            }
            Ok(Some(job))
        })
    }

    fn value_size(
        &self,
        fingerprint: &Fingerprint,
        _value_type: &ValueType,
    ) -> Result<Option<u64>, StoreError> {
        if let Some(pending) = self.writer.pending_object(fingerprint) {
            return Ok(Some(pending.size));
        }
        self.readers.with("read a value's size", |conn| {
            conn.prepare_cached("SELECT size FROM objects WHERE fingerprint = ?1")?
                .query_row([fingerprint.as_bytes().as_slice()], |r| r.get::<_, i64>(0))
                .optional()
                .map(|s| s.map(|s| s as u64))
        })
    }

    fn has_value(&self, fingerprint: &Fingerprint, _value_type: &ValueType) -> bool {
        if self.writer.pending_object(fingerprint).is_some() {
            return true;
        }
        let row = self.readers.with("look up a value", |conn| {
            conn.prepare_cached(
                "SELECT size, data IS NULL, extension FROM objects WHERE fingerprint = ?1",
            )?
            .query_row([fingerprint.as_bytes().as_slice()], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, bool>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()
        });
        match row {
            Ok(Some((_, false, _))) => true,
            // The object store holds every value a row names: one evicted
            // here is fetched back when it is read, not needed to skip.
            Ok(Some((size, true, extension))) => {
                self.remote.is_on() || self.objects.intact(fingerprint, &extension, size)
            }
            _ => false,
        }
    }

    fn value_file(&self, fingerprint: &Fingerprint) -> Result<Option<ValueFile>, StoreError> {
        self.checked_file(fingerprint)
            .map(Some)
            .map_err(|reason| StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason,
            })
    }

    fn get_value(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<ErasedValue, StoreError> {
        if let Some(pending) = self.writer.pending_object(fingerprint) {
            if pending.value_type == *value_type {
                return Ok(pending.value);
            }
            // Written as another type whose encoding is the same bytes.
            let mut bytes = Vec::new();
            pending.value_type.encode(&*pending.value, &mut bytes)?;
            return Ok(value_type.decode(&bytes)?);
        }
        let Some(StoredObject {
            size,
            content_hash,
            extension,
            data,
        }) = self.stored_object("read a value", fingerprint)?
        else {
            return Err(StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason: format!("it is not in the store {}", self.dir.display()),
            });
        };
        let in_file = data.is_none();
        let files = |target: &Fingerprint| self.file_of(target);
        let ctx = StoreContext::new(*fingerprint, &files);
        let loaded = match data {
            Some(bytes) => {
                if Fingerprint::of_bytes(&bytes) != content_hash {
                    Err(Unreadable::Damaged(
                        "its bytes in the database no longer match its content hash".to_owned(),
                    ))
                } else {
                    value_type
                        .decode_stored(&bytes, &ctx)
                        .map_err(|e| Unreadable::of(e, |e| format!("its bytes do not decode: {e}")))
                }
            }
            None => self.read_file_value(
                (fingerprint, &extension, size, &content_hash),
                value_type,
                &ctx,
            ),
        };
        loaded.map_err(|unreadable| match unreadable {
            Unreadable::Damaged(reason) => {
                self.quarantine(fingerprint, &extension, in_file, &reason);
                StoreError::MissingValue {
                    fingerprint: *fingerprint,
                    reason: format!(
                        "{reason}; it was removed from the store, so submit again to recompute it"
                    ),
                }
            }
            // The view is intact: what it reads is recomputed (its damaged
            // file was removed by `file_of`), and the view read again.
            Unreadable::Reference(reason) => StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason: format!("{reason}; submit again to recompute it"),
            },
            Unreadable::Elsewhere(message) => StoreError::Objects(message),
        })
    }

    fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.known.written(commit.versions);
        let mut uploads = Vec::new();
        let objects = commit
            .values
            .iter()
            .map(|value| self.prepare(value, &mut uploads))
            .collect::<Result<Vec<_>, _>>()?;
        // Before the commit is queued: no row names a value not uploaded.
        self.upload_new(&uploads, commit.versions)?;
        let op = Op::Commit {
            objects,
            versions: commit.versions.to_vec(),
            memo: commit.memo.map(|(key, outputs)| (key, outputs.to_vec())),
            job: commit.job.map(|job| Box::new(job.clone())),
        };
        self.writer.submit(op, commit.job.is_some())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush()
    }

    fn memo(&self, key: &TaskKey) -> Result<Option<Vec<Fingerprint>>, StoreError> {
        if let Some(pending) = self.writer.pending_memo(key) {
            return Ok(Some(pending));
        }
        let key = key.0.as_bytes().as_slice();
        let shared = self
            .memo_reads
            .lookup(key, self.writer.fold_generation(), || {
                self.readers.connection().ok()
            });
        let bytes = match shared {
            Some(bytes) => bytes,
            None => self.readers.with("read a memo entry", |conn| {
                conn.prepare_cached("SELECT outputs FROM memo WHERE task_key = ?1")?
                    .query_row([key], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })?,
        };
        Ok(bytes.and_then(|b| unpack_fingerprints(&b)))
    }

    fn memo_origin(&self, key: &TaskKey) -> Result<Option<MemoOrigin>, StoreError> {
        // Queued by this process: the tables do not have it yet.
        if self.writer.pending_memo(key).is_some() {
            return Ok(None);
        }
        let row = self.readers.with("read a memo entry's origin", |conn| {
            conn.prepare_cached("SELECT scenario, submission FROM memo WHERE task_key = ?1")?
                .query_row([key.0.as_bytes().as_slice()], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
                })
                .optional()
        })?;
        Ok(row.and_then(|(scenario, submission)| {
            Some(MemoOrigin {
                scenario: scenario.filter(|&s| s != 0).map(|s| ScenarioId(s as u64)),
                submission: SubmissionId(submission? as u64),
            })
        }))
    }

    fn record_submission(&self, submission: &Submission) -> Result<(), StoreError> {
        self.memo_reads.end();
        self.writer
            .submit(Op::Submission(submission.clone()), false)
    }

    fn submissions(&self, scenario: ScenarioId) -> Result<Vec<Submission>, StoreError> {
        self.read_submissions(scenario)
    }

    fn latest_submissions(
        &self,
        scenarios: &[ScenarioId],
    ) -> Result<Vec<Option<Submission>>, StoreError> {
        self.read_latest_submissions(scenarios)
    }

    fn submission(
        &self,
        scenario: ScenarioId,
        id: SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        self.read_submission(scenario, id)
    }

    fn submissions_before(
        &self,
        scenario: ScenarioId,
        before: Option<SubmissionId>,
        limit: usize,
    ) -> Result<Vec<Submission>, StoreError> {
        self.read_submissions_before(scenario, before, limit)
    }

    fn scratch_dir(&self) -> Result<&Path, StoreError> {
        Ok(self.objects.scratch())
    }

    fn lock(&self, owner: &Owner) -> Result<OwnerLock, StoreError> {
        let file = self.locks.lock(owner)?;
        Ok(self.known.held(owner, file))
    }

    fn lock_holder(&self, owner: &Owner) -> Result<Option<String>, StoreError> {
        self.locks.holder(owner)
    }

    fn gc(&self) -> Result<GcReport, StoreError> {
        self.flush()?;
        let mut report = self.writer.with_db(|db| self.collect(db))?;
        let (files, bytes) = self.objects.sweep();
        report.files_removed += files;
        report.bytes_freed += bytes;
        self.remove_free_lock_files();
        let _ = self.writer.with_db(|db| {
            db.conn
                .execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(self.err("compact the database"))
        });
        Ok(report)
    }

    fn evict_local(&self) -> Result<EvictReport, StoreError> {
        SqliteStore::evict_local(self)
    }

    fn object_store_url(&self) -> Option<&str> {
        self.remote.url()
    }

    fn location(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn partial_results(&self) -> Option<&dyn PartialResults> {
        Some(self)
    }

    fn file_state(&self, path: &Path) -> Result<Option<FileState>, StoreError> {
        let Some(text) = path.to_str() else {
            return Ok(None);
        };
        self.readers.with("read a file's recorded state", |conn| {
            file_states::read(conn, text)
        })
    }

    fn record_file_states(&self, states: &[(PathBuf, FileState)]) -> Result<(), StoreError> {
        // Needs no complete tables: the journal may wait.
        self.writer.with_db_unfolded(|db| {
            file_states::write(&mut db.conn, states).map_err(self.err("record the states of files"))
        })
    }

    fn record_value_text(&self, fingerprint: &Fingerprint, text: &str) -> Result<(), StoreError> {
        // Needs no complete tables: the journal may wait.
        self.writer.with_db_unfolded(|db| {
            value_texts::write(&db.conn, fingerprint, text)
                .map_err(self.err("record the text of a value"))
        })
    }

    fn value_text(&self, fingerprint: &Fingerprint) -> Result<Option<String>, StoreError> {
        self.readers.with("read the text of a value", |conn| {
            value_texts::read(conn, fingerprint)
        })
    }

    fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.flush()?;
        let rows: Vec<(Fingerprint, StoredObject)> = self.readers.with("list values", |conn| {
            let mut query = conn
                .prepare("SELECT fingerprint, size, content_hash, extension, data FROM objects")?;
            let rows = query.query_map([], |r| {
                let fingerprint = fingerprint_at(r, 0)?;
                Ok((
                    fingerprint,
                    StoredObject {
                        size: r.get::<_, i64>(1)? as u64,
                        content_hash: opt_fingerprint_at(r, 2)?.unwrap_or(fingerprint),
                        extension: r.get(3)?,
                        data: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })?;
        let mut report = VerifyReport::default();
        for (fingerprint, object) in rows {
            let checked = match &object.data {
                Some(bytes) if Fingerprint::of_bytes(bytes) == object.content_hash => {
                    Ok(bytes.len() as u64)
                }
                Some(_) => {
                    Err("its bytes in the database no longer match its content hash".to_owned())
                }
                None => match self.scrub_file(&fingerprint, &object, &mut report)? {
                    Some(checked) => checked,
                    None => continue,
                },
            };
            match checked {
                Ok(bytes) => {
                    report.values_checked += 1;
                    report.bytes_checked += bytes;
                }
                Err(damage) => {
                    self.quarantine(
                        &fingerprint,
                        &object.extension,
                        object.data.is_none(),
                        &damage,
                    );
                    report.damaged.push((fingerprint, damage));
                }
            }
        }
        Ok(report)
    }
}

impl PartialResults for SqliteStore {
    fn partial_result(&self, key: &Fingerprint) -> Option<Vec<u8>> {
        self.readers
            .with("read a partial result", |conn| partials::read(conn, key))
            .ok()
            .flatten()
    }

    fn record_partial_result(&self, key: &Fingerprint, references: &[Fingerprint], result: &[u8]) {
        // Needs no complete tables: the journal may wait.
        let recorded = self.writer.with_db_unfolded(|db| {
            partials::write(&db.conn, key, references, result)
                .map_err(self.err("record a partial result"))
        });
        if let Err(error) = recorded {
            tracing::warn!("{error}; the aggregation runs again next time");
        }
    }
}
