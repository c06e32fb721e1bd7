namespace Vmm.Hosting.Exploration;

/// <summary>
/// The syzkaller-style search: independent lanes, each with its own seeded random source and corpus, generate op
/// sequences, keep those that showed a feature the lane had not seen, and mutate and splice them. Lanes run in
/// rounds of <see cref="RoundSize"/> sequences, in parallel; after a round in which some lane violated the goal the
/// search stops and takes the violation with the smallest (sequence number in its lane, lane number). So the finding
/// depends only on the seed and the configuration, never on the thread count or timing; a time budget only decides
/// after how many rounds the search gives up.
/// </summary>
internal sealed class ExploreSearch(ExploreTarget target, IReadOnlyList<ExploreOp> alphabet, int depth, int seed)
{
    private readonly ExploreTarget _target = target;
    private readonly int _depth = depth;

    public const int LaneCount = 8;
    public const int RoundSize = 8;
    private const int RecentEntries = 16;

    private static readonly int[] Lengths = [8, 64, 64, 64, 512];

    public Trial? Run(ExploreBudget budget, int jobs, Action<ExploreProgress>? progress, CancellationToken cancellationToken, out ExploreProgress final)
    {
        var lanes = Enumerable.Range(0, LaneCount).Select(i => new Lane(this, i, unchecked(seed * 1_000_003 + i * 7919 + 17))).ToArray();
        var perLane = budget.Sequences is { } total ? (total + LaneCount - 1) / LaneCount : int.MaxValue;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var behaviours = new HashSet<string>(StringComparer.Ordinal);
        final = new ExploreProgress(0, 0, 0, 0, 0);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (lanes.All(l => l.Attempts >= perLane) || (budget.Time is { } time && clock.Elapsed >= time)) return null;
            Parallel.For(0, lanes.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, jobs), CancellationToken = cancellationToken },
                l => lanes[l].Round(Math.Min(RoundSize, perLane - lanes[l].Attempts)));
            foreach (var lane in lanes) behaviours.UnionWith(lane.Seen);
            final = new ExploreProgress(lanes.Sum(l => l.Attempts), lanes.Sum(l => l.Corpus.Count), behaviours.Count, 0, 0);
            progress?.Invoke(final);
            var found = lanes.Where(l => l.Found is not null).OrderBy(l => l.FoundAt).ThenBy(l => l.Index).FirstOrDefault();
            if (found is not null) return found.Found;
        }
    }

    /// <summary>A random step; most often at a page <paramref name="sequence"/> already uses, since bugs need several ops on one page.</summary>
    internal ExploreStep RandomStep(Random random, IReadOnlyList<ExploreStep> sequence)
    {
        var step = RandomStep(random);
        var used = sequence.Where(s => s.Op.HasPage).ToList();
        return used.Count > 0 && random.Next(4) != 0 ? Normalize(step with { Page = used[random.Next(used.Count)].Page }, _target.Pages) : step;
    }

    internal ExploreStep RandomStep(Random random)
    {
        // Actor first, then one of its letters: the guest's few letters are picked as often as the VMM's many.
        var actors = alphabet.Select(o => o.Actor).Distinct().ToList();
        var actor = actors[random.Next(actors.Count)];
        var letters = alphabet.Where(o => o.Actor == actor).ToList();
        var op = letters[random.Next(letters.Count)];
        var length = Lengths[random.Next(Lengths.Length)];
        var offset = random.Next(4) == 0 ? (random.Next(2) == 0 ? 64 : 2048) : 0;
        var pages = random.Next(4) == 0 ? 2 : 1;
        return Normalize(new ExploreStep(op, random.Next(_target.Pages), offset, length, pages), _target.Pages);
    }

    /// <summary>Drops what an op does not use and keeps the step inside the VM and its page.</summary>
    internal static ExploreStep Normalize(ExploreStep step, int vmPages)
    {
        var op = step.Op;
        var page = op.HasPage ? Math.Clamp(step.Page, 0, vmPages - 1) : 0;
        var length = op.HasLength ? Math.Clamp(step.Length, 8, (int)ExploreScenario.PageSize) : ExploreStep.DefaultLength;
        var offset = op.HasOffset ? Math.Clamp(step.Offset, 0, (int)ExploreScenario.PageSize - (op.HasLength ? length : 64)) : 0;
        var pages = op.HasPages ? Math.Clamp(step.Pages, 1, vmPages - page) : 1;
        return new ExploreStep(op, page, offset & ~7, length & ~7, pages);
    }

    private List<ExploreStep> Fresh(Random random)
    {
        var sequence = new List<ExploreStep>();
        var length = 1 + random.Next(_depth);
        // As the workloads do, the guest most often starts by writing its secrets: the state most attacks need.
        if (random.Next(2) == 0 && alphabet.FirstOrDefault(o => o.IsGuestSecretWrite) is { } write)
            sequence.Add(Normalize(new ExploreStep(write, random.Next(_target.Pages), 0, Lengths[random.Next(Lengths.Length)]), _target.Pages));
        while (sequence.Count < length) sequence.Add(RandomStep(random, sequence));
        return sequence;
    }

    private List<ExploreStep> Mutate(Random random, IReadOnlyList<ExploreStep[]> corpus)
    {
        // Half the time one of the newest entries: what just showed new behaviour is the likeliest to lead further.
        var pick = random.Next(2) == 0 ? random.Next(Math.Max(0, corpus.Count - RecentEntries), corpus.Count) : random.Next(corpus.Count);
        var sequence = corpus[pick].ToList();
        var count = 1 + random.Next(3);
        for (var m = 0; m < count; m++)
        {
            switch (random.Next(6))
            {
                case 0:
                    sequence.Insert(random.Next(sequence.Count + 1), RandomStep(random, sequence));
                    break;
                case 1 when sequence.Count > 1:
                    sequence.RemoveAt(random.Next(sequence.Count));
                    break;
                case 2 when sequence.Count > 0:
                    {
                        var at = random.Next(sequence.Count);
                        var step = sequence[at];
                        var fresh = RandomStep(random);
                        sequence[at] = Normalize(random.Next(4) switch
                        {
                            0 => step with { Page = fresh.Page },
                            1 => step with { Length = fresh.Length, Offset = fresh.Offset },
                            2 => step with { Pages = fresh.Pages },
                            _ => step with { Op = fresh.Op },
                        }, _target.Pages);
                        break;
                    }
                case 3:
                    {
                        var other = corpus[random.Next(corpus.Count)];
                        var cut = random.Next(sequence.Count + 1);
                        var from = random.Next(other.Length + 1);
                        sequence = [.. sequence.Take(cut), .. other.Skip(from)];
                        break;
                    }
                case 4 when sequence.Count > 0:
                    sequence.Insert(random.Next(sequence.Count + 1), sequence[random.Next(sequence.Count)]);
                    break;
                default:
                    sequence.Add(RandomStep(random, sequence));
                    break;
            }
        }
        if (sequence.Count == 0) sequence.Add(RandomStep(random));
        return sequence.Count > _depth ? sequence.Take(_depth).ToList() : sequence;
    }

    private sealed class Lane(ExploreSearch search, int index, int laneSeed)
    {
        private readonly Random _random = new(laneSeed);

        public int Index { get; } = index;
        public int Attempts { get; private set; }
        public List<ExploreStep[]> Corpus { get; } = [];
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
        public Trial? Found { get; private set; }
        public int FoundAt { get; private set; }

        public void Round(int count)
        {
            for (var i = 0; i < count && Found is null; i++)
            {
                var sequence = Corpus.Count == 0 || _random.Next(5) == 0 ? search.Fresh(_random) : search.Mutate(_random, Corpus);
                Attempts++;
                var trial = search._target.Run(sequence);
                if (trial.Invalid is not null) continue;
                if (trial.Violated is not null || trial.Bug is not null)
                {
                    Found = trial;
                    FoundAt = Attempts;
                    return;
                }
                var before = Seen.Count;
                Seen.UnionWith(trial.Features);
                if (Seen.Count > before) Corpus.Add([.. sequence]);
            }
        }
    }
}

/// <summary>
/// The TLC-style bounded mode: every sequence over the alphabet (each letter at each page, default sizes) up to
/// <c>depth</c> steps, breadth first, extending only sequences that reached a state not seen before
/// (<see cref="ExploreTarget.Run"/> with probes). The first violation in breadth-first, alphabet order is a shortest
/// counterexample.
/// </summary>
internal sealed class ExhaustiveSearch(ExploreTarget target, IReadOnlyList<ExploreOp> alphabet, int depth)
{
    public IReadOnlyList<ExploreStep> Letters { get; } = alphabet
        .SelectMany(op => op.HasPage ? Enumerable.Range(0, target.Pages).Select(p => new ExploreStep(op, p)) : [new ExploreStep(op, 0)])
        .ToList();

    /// <summary>Returns the counterexample or null; <paramref name="final"/> says how far it got (depth completed, states, sequences run).</summary>
    public Trial? Run(ExploreBudget budget, int jobs, Action<ExploreProgress>? progress, CancellationToken cancellationToken, out ExploreProgress final)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var empty = target.Run([], probe: true);
        if (empty.Bug is not null || empty.Invalid is not null) throw new InvalidOperationException($"the empty sequence does not run: {empty.Invalid ?? empty.Bug!.Message}", empty.Bug);
        var seen = new HashSet<string>(StringComparer.Ordinal) { empty.State };
        var frontier = new List<ExploreStep[]> { Array.Empty<ExploreStep>() };
        var tried = 0;
        final = new ExploreProgress(0, 0, 0, seen.Count, 0);
        for (var level = 1; level <= depth && frontier.Count > 0; level++)
        {
            var candidates = frontier.SelectMany(prefix => Letters.Select(letter => (ExploreStep[])[.. prefix, letter])).ToArray();
            var trials = new Trial[candidates.Length];
            var stopped = false;
            Parallel.For(0, candidates.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, jobs), CancellationToken = cancellationToken }, (i, state) =>
            {
                if (budget.Time is { } time && clock.Elapsed >= time) { stopped = true; state.Stop(); return; }
                trials[i] = target.Run(candidates[i], probe: true);
            });
            if (stopped) return null;
            var next = new List<ExploreStep[]>();
            foreach (var trial in trials)
            {
                tried++;
                if (trial.Invalid is not null) continue;
                if (trial.Violated is not null || trial.Bug is not null)
                {
                    final = new ExploreProgress(tried, 0, 0, seen.Count, level);
                    return trial;
                }
                if (seen.Add(trial.State)) next.Add([.. trial.Steps]);
            }
            frontier = next;
            final = new ExploreProgress(tried, 0, 0, seen.Count, level);
            progress?.Invoke(final);
        }
        final = final with { Depth = depth };
        return null;
    }
}
