using Vmm.Abstractions;

namespace Vmm.Testing;

/// <summary>
/// Properties every <see cref="IPrivateMemoryPolicy"/> keeps (docs/conformance.md), checked through the engine since a
/// policy acts only through the kernel: scenarios are built in code and run through the host, on
/// <see cref="MemoryController"/> (plain unless overridden) so the policy alone decides. A freed frame is mapped nowhere; converting twice is converting once; and under a policy that
/// claims protection the VMM never reads a private page's plaintext.
/// </summary>
public abstract class PrivateMemoryPolicyConformance : ComponentConformance
{
    private const string Td = "td1";
    private const string Other = "vm2";
    private static readonly ulong[] TdPages = [0x0, 0x1000, 0x2000, 0x3000];
    /// <summary>The ordinary VM's pages written while the TD runs, and those written after the teardown.</summary>
    private static readonly ulong[] OtherPagesEarly = [0x0, 0x1000, 0x2000];
    private static readonly ulong[] OtherPagesLate = [0x3000, 0x4000, 0x5000];

    public sealed override ComponentKind Kind => ComponentKind.Policy;

    /// <summary>The memory controller under the policy; plain by default, so the policy alone decides what the VMM can read.</summary>
    protected virtual string MemoryController => "plain";

    /// <summary>
    /// The backing a VM gets where the suite asks for <paramref name="backing"/> ("shmem" or "anon"): a policy that
    /// accepts only one backing for a protected VM (guest-only: shmem; guest-memfd: guest-memfd) maps both to it.
    /// </summary>
    protected virtual string BackingFor(string backing) => backing;

    /// <summary>
    /// True when the file <c>host.fallocate</c> punches is one the VMM does not map at the memslot (a guest_memfd): the
    /// punch tears down the private side only, and the VMM's present entries there are the shared side's, which stay.
    /// </summary>
    protected virtual bool PunchedFileIsUnmapped => false;

    /// <summary>The kernel the suite's scenarios run (guest-memfd needs 6.8 or later).</summary>
    protected virtual string KernelVersion => "5.16";

    private ConformanceScenario NewScenario(string title) => new ConformanceScenario(title)
        .Kernel(KernelVersion)
        .Component("memory", MemoryController)
        .Component("policy", ComponentName);

    /// <summary>Whether the policy says the VMM cannot read private memory (false only for the unprotected baseline).</summary>
    protected virtual bool ClaimsProtection => true;

    /// <summary>
    /// VMM reads that, by the design the policy models, still reach private plaintext (a documented hole, such as RFC v1
    /// letting every GUP through): op names, "host.read again", or <see cref="SecondMappingRead"/>. Each must really leak
    /// where the scenario has it, so an entry cannot outlive the hole; say why in the override.
    /// </summary>
    protected virtual IReadOnlyCollection<string> KnownPlaintextReads => [];

    /// <summary>The name <see cref="KnownPlaintextReads"/> gives a VMM load through a second mmap of the backing file.</summary>
    public const string SecondMappingRead = "host.read of a second mapping";

    public static TheoryData<string, string> Teardowns => new()
    {
        { "vm.destroy", "shmem" },
        { "vm.destroy", "anon" },
        { "host.fallocate", "shmem" },
        { "host.munmap", "shmem" },
        { "host.munmap", "anon" },
    };

    [Theory]
    [MemberData(nameof(Teardowns))]
    public void FreedFrame_IsMappedNowhere_AndItsNextOwnerAlone_MapsIt(string teardown, string backing)
    {
        var places = TdPages.Select(g => (Td, g)).ToList();
        var frames = ConformanceScenario.FramesAfter(Host, () => Touched(backing), places);

        var scenario = Touched(backing);
        var before = scenario.InspectAll(places);
        var otherBefore = scenario.InspectAll(OtherPagesEarly.Select(g => (Other, g)));
        scenario.Step(teardown switch
        {
            "vm.destroy" => (object)new { op = "vm.destroy", vm = Td },
            "host.fallocate" => (object)new { op = "host.fallocate", vm = Td, offset = "0x0", size = "16K", mode = new[] { "PUNCH_HOLE", "KEEP_SIZE" } },
            _ => (object)new { op = "host.munmap", vm = Td, gpa = "0x0", size = "16K" },
        });
        var known = frames.OfType<string>().Distinct().ToList();
        var byPfn = known.Select(pfn => scenario.Step(new { op = "inspect", pfn })).ToList();
        var tdAlive = teardown != "vm.destroy";
        var byGpa = tdAlive ? scenario.InspectAll(places) : [];
        // The other VM's next pages come first from the frames just freed (the allocator reuses the last freed first).
        var reused = OtherPagesLate.Select(g => scenario.Step(new { op = "host.write", vm = Other, gpa = ConformanceScenario.Hex(g), data = ConformanceScenario.Pattern((int)(g >> 12) + 40, 8) })).ToList();
        var reusedFrames = scenario.InspectAll(OtherPagesLate.Select(g => (Other, g)));
        var tdAfterReuse = tdAlive ? scenario.InspectAll(places) : [];
        var byPfnAfterReuse = known.Select(pfn => scenario.Step(new { op = "inspect", pfn })).ToList();
        var run = scenario.Run(Host);

        for (var i = 0; i < places.Count; i++)
            Assert.True(run[before[i]].StateText("pfn") == frames[i], $"the engine is not deterministic: {places[i]} was {frames[i]}, now {run[before[i]]}\n{run.ScenarioText}");
        // While both VMs run, frames the TD's pages gave up (a policy dropping the last reference) went to the other VM: it alone may map them.
        var otherFrames = otherBefore.Select(i => run[i].StateText("pfn")).OfType<string>().ToList();
        foreach (var step in before)
            AssertNamesNone(run, run[step], otherFrames, $"while {Td} runs");
        for (var i = 0; i < known.Count; i++)
        {
            var state = run[byPfn[i]];
            Assert.False(state.StateFlag("hostMapped"), $"after {teardown}, pfn {known[i]} is still mapped by a process: {state}\n{run.ScenarioText}");
            Assert.Equal("0", state.StateText("mapcount"));
        }
        foreach (var step in byGpa.Concat(tdAfterReuse))
        {
            var state = run[step];
            Assert.False(state.StateFlag("ept"), $"after {teardown}, {Td}'s EPT still maps the torn-down range: {state}\n{run.ScenarioText}");
            if (teardown == "host.fallocate" && PunchedFileIsUnmapped) continue;
            Assert.False(state.StateFlag("hostMapped"), $"after {teardown}, the VMM still maps the torn-down range: {state}\n{run.ScenarioText}");
            if (teardown == "host.munmap") Assert.True(state.StateText("pte") == "none", $"after munmap the range has no PTE at all: {state}\n{run.ScenarioText}");
        }
        foreach (var step in reused) Assert.True(run[step].IsOk, $"{run[step]}\n{run.ScenarioText}");
        var reusedPfns = reusedFrames.Select(i => run[i].StateText("pfn")).OfType<string>().ToList();
        foreach (var step in tdAfterReuse) AssertNamesNone(run, run[step], reusedPfns, $"after {teardown}");
        for (var i = 0; i < known.Count; i++)
        {
            // A frame the other VM got is mapped by its one VMM mapping; any other frame of the torn-down range by nobody.
            var expected = reusedPfns.Contains(known[i]) ? "1" : "0";
            Assert.True(run[byPfnAfterReuse[i]].StateText("mapcount") == expected, $"after {teardown} and {Other}'s writes, pfn {known[i]} should have mapcount {expected}: {run[byPfnAfterReuse[i]]}\n{run.ScenarioText}");
        }
    }

    /// <summary>Neither the TD's frame at this gpa nor its VMM PTE (present, PROT_NONE or hwpoison) is one of <paramref name="others"/>' frames.</summary>
    private static void AssertNamesNone(ScenarioOutcomes run, StepOutcome tdPage, IReadOnlyList<string> others, string when)
    {
        var pfn = tdPage.StateText("pfn");
        var pte = tdPage.StateText("pte");
        foreach (var other in others)
        {
            Assert.False(pfn == other, $"{when}, {Td}'s page and {Other}'s page are the same frame {other}: {tdPage}\n{run.ScenarioText}");
            Assert.False(pte is not null && (pte.EndsWith($" pfn {other}", StringComparison.Ordinal) || pte == $"swp(HwPoison,{other})"),
                $"{when}, {Td}'s PTE {pte} names pfn {other}, which belongs to {Other}\n{run.ScenarioText}");
        }
    }

    public static TheoryData<string, string, string> Conversions => new()
    {
        { "shared", "0x1000", "4K" },
        { "shared", "0x0", "16K" },
        { "shared", "0x0", "8M" },
        { "private", "0x1000", "4K" },
        { "private", "0x0", "16K" },
        { "private", "0x0", "8M" },
    };

    [Theory]
    [MemberData(nameof(Conversions))]
    public void Conversion_IsIdempotent(string to, string gpa, string size)
    {
        foreach (var backing in new[] { "shmem", "anon" })
        {
            var once = Converted(backing, to, gpa, size, times: 1);
            var twice = Converted(backing, to, gpa, size, times: 2);
            Assert.True(once.Conversions[0] == twice.Conversions[0], $"{backing}: the first conversion differs between runs: {once.Conversions[0]} vs {twice.Conversions[0]}");
            Assert.True(twice.Conversions[0] == twice.Conversions[1], $"{backing}: converting {gpa}+{size} to {to} again gave {twice.Conversions[1]}, the first time {twice.Conversions[0]}\n{twice.Text}");
            for (var i = 0; i < once.Probes.Count; i++)
                Assert.True(once.Probes[i] == twice.Probes[i], $"{backing}: after converting {gpa}+{size} to {to} twice, probe {i} saw {twice.Probes[i]}; after once {once.Probes[i]}\n{twice.Text}");
        }
    }

    [Theory]
    [InlineData("shmem", false)]
    [InlineData("shmem", true)]
    [InlineData("anon", false)]
    [InlineData("anon", true)]
    public void PrivatePage_IsNeverReadAsPlaintext_ByTheVmm(string backing, bool vmmTouchedFirst)
    {
        var secret = ConformanceScenario.Pattern(99, 64);
        var scenario = NewScenario($"conformance: policy {ComponentName}: the VMM reads a private page")
            .Vm(Td, "8M", isProtected: true, BackingFor(backing));
        if (vmmTouchedFirst) scenario.Step(new { op = "host.write", vm = Td, gpa = "0x1000", data = ConformanceScenario.Pattern(98, 64) });
        var write = scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x1000", data = secret });
        var reads = new List<(string Read, int Step)>
        {
            ("host.read", scenario.Step(new { op = "host.read", vm = Td, gpa = "0x1000", len = 64 })),
            ("host.procmem-read", scenario.Step(new { op = "host.procmem-read", vm = Td, gpa = "0x1000", len = 64 })),
            ("host.process-vm-readv", scenario.Step(new { op = "host.process-vm-readv", vm = Td, gpa = "0x1000", len = 64 })),
        };
        if (backing == "shmem")
        {
            reads.Add(("host.pread", scenario.Step(new { op = "host.pread", vm = Td, offset = "0x1000", len = 64 })));
            // A second mapping of the backing file, at the next 1 GiB boundary after the VM (scenario-format.md).
            scenario.Step(new { op = "host.mmap-backing", vm = Td, offset = "0x0", size = "8M" });
            reads.Add((SecondMappingRead, scenario.Step(new { op = "host.read", hva = "0x7f0040001000", len = 64 })));
        }
        reads.Add(("host.read again", scenario.Step(new { op = "host.read", vm = Td, gpa = "0x1000", len = 64 })));
        var check = scenario.Step(new { op = "guest.read", vm = Td, gpa = "0x1000", len = 64 });
        var run = scenario.Run(Host);

        Assert.True(run[write].IsOk, $"the guest's private write: {run[write]}\n{run.ScenarioText}");
        Assert.True(run[check].Data == secret, $"the guest reads its own page back: {run[check]}\n{run.ScenarioText}");
        var leaks = reads.Where(r => run[r.Step].Data is { } data && data.Contains(secret[2..], StringComparison.Ordinal)).ToList();
        if (!ClaimsProtection)
        {
            Assert.True(leaks.Count > 0, $"{ComponentName} claims no protection, yet no VMM read saw the plaintext; override ClaimsProtection\n{run.ScenarioText}");
            return;
        }
        var known = KnownPlaintextReads;
        var unexpected = leaks.Where(l => !known.Contains(l.Read)).Select(l => $"{l.Read}: {run[l.Step]}").ToList();
        Assert.True(unexpected.Count == 0, $"the VMM read private plaintext under {ComponentName}: {string.Join("; ", unexpected)}\n{run.ScenarioText}");
        foreach (var read in known.Where(k => reads.Exists(r => r.Read == k)))
            Assert.True(leaks.Exists(l => l.Read == read), $"{read} is listed as a known plaintext read of {ComponentName} but saw no plaintext ({backing}): remove it from KnownPlaintextReads\n{run.ScenarioText}");
    }

    /// <summary>A protected VM whose pages the guest wrote privately, the VMM wrote, and the guest reached shared; and an ordinary VM.</summary>
    private ConformanceScenario Touched(string backing)
    {
        var scenario = NewScenario($"conformance: policy {ComponentName}: teardown")
            .Vm(Td, "8M", isProtected: true, BackingFor(backing))
            .Vm(Other, "8M", isProtected: false, BackingFor(backing));
        scenario.Step(new { op = "host.write", vm = Other, gpa = "0x0", data = "0x0102" });
        scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x0", data = ConformanceScenario.Pattern(1, 16) });
        scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x1000", data = ConformanceScenario.Pattern(2, 16) });
        scenario.Step(new { op = "host.write", vm = Td, gpa = "0x2000", data = ConformanceScenario.Pattern(3, 16) });
        scenario.Step(new { op = "guest.read", vm = Td, gpa = "0x2000", len = 16, shared = true });
        scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x3000", data = ConformanceScenario.Pattern(4, 16), shared = true });
        scenario.Step(new { op = "host.read", vm = Td, gpa = "0x3000", len = 16 });
        foreach (var gpa in OtherPagesEarly.Skip(1))
            scenario.Step(new { op = "host.write", vm = Other, gpa = ConformanceScenario.Hex(gpa), data = ConformanceScenario.Pattern((int)(gpa >> 12) + 20, 8) });
        return scenario;
    }

    private sealed record ConversionRun(IReadOnlyList<string> Conversions, IReadOnlyList<string> Probes, string Text);

    /// <summary>Private and shared pages in a protected VM, one conversion <paramref name="times"/> times, then every probe of the pages.</summary>
    private ConversionRun Converted(string backing, string to, string gpa, string size, int times)
    {
        var scenario = NewScenario($"conformance: policy {ComponentName}: convert {gpa}+{size} to {to} x{times}")
            .Vm(Td, "8M", isProtected: true, BackingFor(backing));
        scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x0", data = ConformanceScenario.Pattern(1, 16) });
        scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x1000", data = ConformanceScenario.Pattern(2, 16) });
        scenario.Step(new { op = "host.write", vm = Td, gpa = "0x2000", data = ConformanceScenario.Pattern(3, 16) });
        scenario.Step(new { op = "guest.write", vm = Td, gpa = "0x3000", data = ConformanceScenario.Pattern(4, 16), shared = true });
        var conversions = Enumerable.Range(0, times).Select(_ => scenario.Step(new { op = "guest.convert", vm = Td, gpa, size, to })).ToList();
        var probes = new List<int>(scenario.InspectAll(TdPages.Select(g => (Td, g))));
        foreach (var page in TdPages)
        {
            var at = ConformanceScenario.Hex(page);
            probes.Add(scenario.Step(new { op = "guest.read", vm = Td, gpa = at, len = 16 }));
            probes.Add(scenario.Step(new { op = "guest.read", vm = Td, gpa = at, len = 16, shared = true }));
            probes.Add(scenario.Step(new { op = "host.read", vm = Td, gpa = at, len = 16 }));
            probes.Add(scenario.Step(new { op = "kernel.read", vm = Td, gpa = at, len = 16 }));
        }
        probes.AddRange(scenario.InspectAll(TdPages.Select(g => (Td, g))));
        var run = scenario.Run(Host);
        return new ConversionRun(conversions.Select(i => run[i].Json).ToList(), probes.Select(i => $"{run[i].Op} {run[i].Json}").ToList(), run.ScenarioText);
    }
}
