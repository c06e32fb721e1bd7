using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>
/// guest.convert of a whole 1 TiB guest touched in a few pages: the same result as on a 1 GiB guest, and the
/// same work. The kernel's PageSteps counts every per-page lookup and every leaf or cache chunk a range walk
/// visits, so a loop over the range's gfns (2^28 of them here) cannot hide.
/// </summary>
public class WideConversionTests
{
    private const ulong GiB = 1UL << 30;
    private const ulong TiB = 1UL << 40;

    /// <summary>Touched pages, all inside the first GiB so the small guest has them too; one in a second 2 MiB range, one at the end.</summary>
    private static readonly ulong[] Touched = [0x3000, 0x20_5000, GiB - 0x1000];

    private static readonly string[] InspectedKeys = ["pfn", "hwpoison", "private", "hostMapped", "hwpoisonEntry", "ept", "owner", "refcount", "mapcount"];

    public static TheoryData<string, MemoryKind> Cases => new()
    {
        { "none", MemoryKind.Plain },
        { "none", MemoryKind.TdxCi },
        { "hwpoison-v1", MemoryKind.Plain },
        { "hwpoison-v1", MemoryKind.TdxCi },
        { "hwpoison-v2", MemoryKind.Plain },
        { "hwpoison-v2", MemoryKind.TdxCi },
    };

    private static Func<KernelServices, IPrivateMemoryPolicy> Policy(string name) => name switch
    {
        "hwpoison-v1" => PolicyMachine.V1(),
        "hwpoison-v2" => PolicyMachine.V2(),
        _ => _ => new NonePolicy(),
    };

    /// <summary>What one guest size observed: each step's outcome, the touched pages' state after it, and the work each conversion took.</summary>
    private sealed record Run(List<string> Observed, List<long> Steps);

    private static Run ConvertWhole(string policy, MemoryKind memory, ulong vmBytes, BackingKind backing = BackingKind.Shmem)
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td", vmBytes, backing)], memory, Policy(policy));
        var run = new Run([], []);
        void Observe(string what, Outcome outcome)
        {
            run.Observed.Add($"{what}: {outcome}");
            foreach (var gpa in Touched)
            {
                var state = m.Run("inspect", "td", gpa).State!;
                run.Observed.Add($"  0x{gpa:x} " + string.Join(" ", InspectedKeys.Select(k => $"{k}={state[k]}")));
            }
        }
        void Convert(bool toPrivate)
        {
            var before = m.Kernel.Kvm.PageSteps;
            var outcome = m.Convert("td", 0, vmBytes, toPrivate);
            run.Steps.Add(m.Kernel.Kvm.PageSteps - before);
            Observe(toPrivate ? "to private" : "to shared", outcome);
        }

        foreach (var gpa in Touched) Observe($"guest write 0x{gpa:x}", m.GuestWrite("td", gpa, PolicyMachine.Bytes((byte)(gpa >> 12))));
        Convert(toPrivate: false);
        foreach (var gpa in Touched) Observe($"host read 0x{gpa:x}", m.HostRead("td", gpa));
        Convert(toPrivate: true);
        foreach (var gpa in Touched) Observe($"guest read 0x{gpa:x}", m.GuestRead("td", gpa));
        return run;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvertWhole1TiBGuest_ObservesTheSameAsA1GiBGuestWithTheSameWork(string policy, MemoryKind memory)
    {
        var small = ConvertWhole(policy, memory, GiB);

        var large = ConvertWhole(policy, memory, TiB);

        Assert.Equal(small.Observed, large.Observed);
        for (var i = 0; i < small.Steps.Count; i++)
        {
            // The cache scan looks at one top-directory slot per 64 GiB of file (16 for 1 TiB against 1), and
            // a conversion to shared may scan twice: the policy's walk and the TDX reclaim.
            Assert.InRange(large.Steps[i], small.Steps[i], small.Steps[i] + 2 * 15);
            Assert.True(large.Steps[i] < 100, $"conversion {i} took {large.Steps[i]} page steps");
        }
    }

    [Theory]
    [InlineData("hwpoison-v1")]
    [InlineData("hwpoison-v2")]
    public void ConvertWhole1TiBGuest_ToShared_UnpoisonsTheTouchedPagesAndTheVmmReadsWhatTheGuestWrote(string policy)
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td", TiB)], MemoryKind.Plain, Policy(policy));
        foreach (var gpa in Touched) Expect.Ok(m.GuestWrite("td", gpa, PolicyMachine.Bytes(0x5a)));
        Assert.All(Touched, gpa => Assert.True(m.Kernel.Mm.Frames.Has(m.FrameOf("td", gpa), FrameFlags.HwPoison)));

        Expect.Ok(m.Convert("td", 0, TiB, toPrivate: false));

        Assert.All(Touched, gpa => Assert.False(m.Kernel.Mm.Frames.Has(m.FrameOf("td", gpa), FrameFlags.HwPoison)));
        Assert.All(Touched, gpa => Assert.Equal(PolicyMachine.Bytes(0x5a), Expect.Data(m.HostRead("td", gpa))));
    }

    [Fact]
    public void ConvertWhole1TiBHugetlbGuest_ReclaimsEverySubpageTheTdTookUnderTdxCi()
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td", TiB, BackingKind.Hugetlb)], MemoryKind.TdxCi, _ => new NonePolicy());
        foreach (var gpa in Touched) Expect.Ok(m.GuestWrite("td", gpa, PolicyMachine.Bytes(1)));
        var key = m.VmNamed("td").Info.PrivateKey;
        Assert.All(Touched, gpa => Assert.Equal(key, m.Kernel.Mm.Frames.Key(m.FrameOf("td", gpa))));
        var before = m.Kernel.Kvm.PageSteps;

        Expect.Ok(m.Convert("td", 0, TiB, toPrivate: false));

        Assert.All(Touched, gpa => Assert.Equal(KeyId.Shared, m.Kernel.Mm.Frames.Key(m.FrameOf("td", gpa))));
        // Three huge pages of 512 subpages are looked up; the other 2^28 - 1536 gfns are not.
        Assert.InRange(m.Kernel.Kvm.PageSteps - before, 3 * 512, 3 * 512 * 3);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("hwpoison-v1")]
    [InlineData("hwpoison-v2")]
    public void ConvertWhole1TiBGuest_AllocatesNothingOnceWarm(string policy)
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td", TiB)], MemoryKind.Plain, Policy(policy));
        var vm = m.VmNamed("td");
        var buffer = new byte[8];
        void Cycle()
        {
            m.Kernel.Kvm.Convert(vm, 0, TiB, toPrivate: false);
            m.Kernel.Kvm.Convert(vm, 0, TiB, toPrivate: true);
            foreach (var gpa in Touched) Assert.True(m.Kernel.Kvm.TryGuestAccess(vm, gpa, buffer, write: false, shared: false, out _));
        }
        Cycle();
        Cycle();

        var before = GC.GetAllocatedBytesForCurrentThread();
        Cycle();

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
