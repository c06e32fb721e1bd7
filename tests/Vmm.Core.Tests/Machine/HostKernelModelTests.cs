using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// Model-based test of the host kernel: random sequences of VMM, child and guest accesses, munmap,
/// MADV_DONTNEED / HWPOISON / HUGEPAGE, fork and exit over an anon and a shmem VM. A small model predicts
/// every outcome and the data read back; after each step the kernel's bookkeeping is checked.
/// </summary>
public class HostKernelModelTests
{
    private const int Anon = 0;
    private const int Shm = 1;
    private const int PagesPerVm = 6;
    private const int MaxChildren = 3;
    private static readonly string[] VmNames = ["anon", "shm"];

    public enum OpKind
    {
        HostWrite,
        HostRead,
        Munmap,
        DontNeed,
        HwPoison,
        SoftOffline,
        HugePage,
        Fork,
        ExitChild,
        ChildWrite,
        ChildRead,
        GuestWrite,
        GuestRead,
    }

    public readonly record struct Op(OpKind Kind, int Vm, int Page, int Pages, byte Value, int Child)
    {
        public override string ToString() => Kind switch
        {
            OpKind.Munmap or OpKind.DontNeed => $"{Kind}({VmNames[Vm]} p{Page} x{Pages})",
            OpKind.Fork or OpKind.HugePage => Kind.ToString(),
            OpKind.ExitChild => $"{Kind}(c{Child})",
            OpKind.ChildRead or OpKind.ChildWrite => $"{Kind}(c{Child} {VmNames[Vm]} p{Page} 0x{Value:x2})",
            _ => $"{Kind}({VmNames[Vm]} p{Page} 0x{Value:x2})",
        };
    }

    /// <summary>Model pages 0..3 lie in the first 2 MiB of a VM, 4..5 in the second.</summary>
    private static ulong GpaOf(int page) => page < 4 ? (ulong)page * TestMachine.Page : TestMachine.Huge + (ulong)(page - 4) * TestMachine.Page;

    private static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency(
            (6, Gen.Const(OpKind.HostWrite)), (4, Gen.Const(OpKind.HostRead)), (2, Gen.Const(OpKind.Munmap)),
            (2, Gen.Const(OpKind.DontNeed)), (3, Gen.Const(OpKind.HwPoison)), (2, Gen.Const(OpKind.SoftOffline)), (1, Gen.Const(OpKind.HugePage)),
            (2, Gen.Const(OpKind.Fork)), (1, Gen.Const(OpKind.ExitChild)), (3, Gen.Const(OpKind.ChildWrite)),
            (3, Gen.Const(OpKind.ChildRead)), (4, Gen.Const(OpKind.GuestWrite)), (4, Gen.Const(OpKind.GuestRead))),
        Gen.Int[0, 1],
        Gen.Int[0, PagesPerVm - 1],
        Gen.OneOfConst(1, 2, 512),
        Gen.Byte[1, 255],
        Gen.Int[0, MaxChildren - 1],
        (kind, vm, page, pages, value, child) => new Op(kind, vm, page, pages, value, child));

    [Fact]
    public void RandomOperationSequences_KeepRefcountsMapcountsRmapAndDataConsistent()
    {
        GenOp.Array[1, 40].Sample(ops => new ModelRun().Execute(ops), iter: 1000, print: ops => string.Join(", ", ops));
    }

    private sealed class ModelFrame
    {
        public byte Value;
        public bool Poisoned;
    }

    private sealed class ModelProcess
    {
        public required Process Sim { get; init; }
        public bool[,] Mapped { get; init; } = new bool[2, PagesPerVm];
        /// <summary>Anon pages: null = never written (zero page or zeroed THP subpage); shared objects = COW-shared frames.</summary>
        public ModelFrame?[] AnonFrames { get; init; } = new ModelFrame?[PagesPerVm];
    }

    private sealed class ModelRun
    {
        private readonly TestMachine _m;
        private readonly ModelProcess _vmm;
        private readonly List<ModelProcess> _children = [];
        private readonly ModelFrame[] _shm = new ModelFrame[PagesPerVm];
        private int _poisonedFrames;
        private int _step;
        private Op _op;

        public ModelRun()
        {
            _m = TestMachine.Create(new MachineSetup
            {
                Vms = [TestMachine.Vm(VmNames[Anon], 4 * TestMachine.MiB), TestMachine.Vm(VmNames[Shm], 4 * TestMachine.MiB, BackingKind.Shmem)],
            });
            _vmm = new ModelProcess { Sim = _m.VmmProcess };
            for (var vm = 0; vm < 2; vm++)
                for (var p = 0; p < PagesPerVm; p++) _vmm.Mapped[vm, p] = true;
            for (var p = 0; p < PagesPerVm; p++) _shm[p] = new ModelFrame();
        }

        private IEnumerable<ModelProcess> Live => _children.Prepend(_vmm);

        private ulong Hva(int vm, int page) => _m.HvaOf(GpaOf(page), VmNames[vm]);

        public void Execute(Op[] ops)
        {
            foreach (var op in ops)
            {
                _op = op;
                Apply(op);
                CheckInvariants();
                _step++;
            }
            TearDownAndCheckNothingLeaked();
        }

        private void Apply(Op op)
        {
            var vm = VmNames[op.Vm];
            var gpa = GpaOf(op.Page);
            switch (op.Kind)
            {
                case OpKind.HostWrite:
                    ExpectWrite(_vmm, op, _m.HostWrite(gpa, TestMachine.Bytes(op.Value), vm), guest: false);
                    break;
                case OpKind.HostRead:
                    ExpectRead(_vmm, op, _m.HostRead(gpa, 16, vm), guest: false);
                    break;
                case OpKind.GuestWrite:
                    ExpectWrite(_vmm, op, _m.GuestWrite(gpa, TestMachine.Bytes(op.Value), vm), guest: true);
                    break;
                case OpKind.GuestRead:
                    ExpectRead(_vmm, op, _m.GuestRead(gpa, 16, vm), guest: true);
                    break;
                case OpKind.ChildWrite when _children.Count > 0:
                {
                    var child = _children[op.Child % _children.Count];
                    ExpectWrite(child, op, _m.UserAccess(child.Sim, Hva(op.Vm, op.Page), TestMachine.Bytes(op.Value), write: true), guest: false);
                    break;
                }
                case OpKind.ChildRead when _children.Count > 0:
                {
                    var child = _children[op.Child % _children.Count];
                    ExpectRead(child, op, _m.UserAccess(child.Sim, Hva(op.Vm, op.Page), new byte[16], write: false), guest: false);
                    break;
                }
                case OpKind.Munmap:
                {
                    var size = (ulong)op.Pages * TestMachine.Page;
                    Require(_m.Munmap(gpa, size, vm).Kind == OutcomeKind.Ok, "munmap failed");
                    ForPagesIn(op, page =>
                    {
                        _vmm.Mapped[op.Vm, page] = false;
                        if (op.Vm == Anon) _vmm.AnonFrames[page] = null;
                    });
                    RequireNothingMapped(_vmm.Sim, _m.HvaOf(gpa, vm), size, "after munmap");
                    break;
                }
                case OpKind.DontNeed:
                {
                    var size = (ulong)op.Pages * TestMachine.Page;
                    var outcome = _m.Madvise(gpa, size, "DONTNEED", vm);
                    if (!_vmm.Mapped[op.Vm, op.Page])
                    {
                        RequireError(Errno.ENOMEM, outcome);
                        break;
                    }
                    Require(outcome.Kind == OutcomeKind.Ok, $"DONTNEED gave {outcome}");
                    if (op.Vm == Anon) ForPagesIn(op, page => _vmm.AnonFrames[page] = null);
                    RequireNothingMapped(_vmm.Sim, _m.HvaOf(gpa, vm), size, "after MADV_DONTNEED");
                    break;
                }
                case OpKind.HwPoison:
                    HwPoison(op);
                    break;
                case OpKind.SoftOffline:
                    SoftOffline(op);
                    break;
                case OpKind.HugePage:
                {
                    var outcome = _m.Madvise(0, 4 * TestMachine.MiB, "HUGEPAGE", VmNames[Anon]);
                    if (_vmm.Mapped[Anon, 0]) Require(outcome.Kind == OutcomeKind.Ok, $"HUGEPAGE gave {outcome}");
                    else RequireError(Errno.ENOMEM, outcome);
                    break;
                }
                case OpKind.Fork when _children.Count < MaxChildren:
                {
                    Require(_m.Fork().Kind == OutcomeKind.Ok, "fork failed");
                    var child = new ModelProcess
                    {
                        Sim = _m.LastChild,
                        Mapped = (bool[,])_vmm.Mapped.Clone(),
                        AnonFrames = (ModelFrame?[])_vmm.AnonFrames.Clone(),
                    };
                    _children.Add(child);
                    break;
                }
                case OpKind.ExitChild when _children.Count > 0:
                {
                    var child = _children[op.Child % _children.Count];
                    _m.Kernel.Syscalls.Exit(child.Sim);
                    _children.Remove(child);
                    Require(!child.Sim.Alive, "exited child still alive");
                    RequireNothingMapped(child.Sim, 0, ulong.MaxValue, "after exit");
                    break;
                }
            }
        }

        private void ForPagesIn(Op op, Action<int> action)
        {
            var start = GpaOf(op.Page);
            var end = start + (ulong)op.Pages * TestMachine.Page;
            for (var page = 0; page < PagesPerVm; page++)
                if (GpaOf(page) >= start && GpaOf(page) < end) action(page);
        }

        private ModelFrame? FrameFor(ModelProcess p, int vm, int page) => vm == Anon ? p.AnonFrames[page] : _shm[page];

        private bool SharedWithAnother(ModelProcess p, int page, ModelFrame frame)
            => Live.Any(other => other != p && other.Mapped[Anon, page] && ReferenceEquals(other.AnonFrames[page], frame));

        private void ExpectWrite(ModelProcess p, Op op, Outcome outcome, bool guest)
        {
            if (!p.Mapped[op.Vm, op.Page])
            {
                RequireUnmapped(outcome, guest);
                return;
            }
            var frame = FrameFor(p, op.Vm, op.Page);
            if (frame is { Poisoned: true })
            {
                RequireSigBusAr(outcome, guest ? null : Hva(op.Vm, op.Page));
                return;
            }
            Require(outcome.Kind == OutcomeKind.Ok, $"write gave {outcome}");
            if (op.Vm == Shm)
            {
                _shm[op.Page].Value = op.Value;
            }
            else if (frame is null || SharedWithAnother(p, op.Page, frame))
            {
                p.AnonFrames[op.Page] = new ModelFrame { Value = op.Value }; // first write or copy-on-write
            }
            else
            {
                frame.Value = op.Value;
            }
        }

        private void ExpectRead(ModelProcess p, Op op, Outcome outcome, bool guest)
        {
            if (!p.Mapped[op.Vm, op.Page])
            {
                RequireUnmapped(outcome, guest);
                return;
            }
            var frame = FrameFor(p, op.Vm, op.Page);
            if (frame is { Poisoned: true })
            {
                RequireSigBusAr(outcome, guest ? null : Hva(op.Vm, op.Page));
                return;
            }
            var expected = frame?.Value ?? 0;
            Require(outcome.Kind == OutcomeKind.Ok && outcome.Data is { Length: 16 } data && data.All(b => b == expected),
                $"read expected 16 x 0x{expected:x2}, got {outcome}");
        }

        private void HwPoison(Op op)
        {
            var vm = VmNames[op.Vm];
            var outcome = _m.Madvise(GpaOf(op.Page), TestMachine.Page, "HWPOISON", vm);
            if (!_vmm.Mapped[op.Vm, op.Page])
            {
                RequireError(Errno.ENOMEM, outcome);
                return;
            }
            var frame = FrameFor(_vmm, op.Vm, op.Page);
            if (frame is { Poisoned: true })
            {
                RequireError(Errno.EFAULT, outcome); // get_user_pages_fast meets the hwpoison entry
                return;
            }
            if (frame is not null)
            {
                Require(outcome.Kind == OutcomeKind.Ok, $"HWPOISON gave {outcome}");
                frame.Poisoned = true;
                _poisonedFrames++;
                return;
            }
            // A never-written anon page: the zero page (memory_failure refuses it) or a zeroed THP subpage.
            var hva = Hva(op.Vm, op.Page);
            if (outcome.Kind == OutcomeKind.Errno)
            {
                RequireError(Errno.EBUSY, outcome);
                var pte = _vmm.Sim.PageTable.Lookup(hva, out _);
                Require(pte.IsPresent && pte.Pfn == FrameAllocator.ZeroPage, $"EBUSY but the VMM maps {pte}, not the zero page");
                return;
            }
            Require(outcome.Kind == OutcomeKind.Ok, $"HWPOISON gave {outcome}");
            _poisonedFrames++;
            var poisoned = new ModelFrame { Poisoned = true };
            foreach (var p in Live)
            {
                if (p.AnonFrames[op.Page] is not null || !p.Mapped[Anon, op.Page]) continue;
                if (p.Sim.PageTable.Lookup(hva, out _).IsHwPoison) p.AnonFrames[op.Page] = poisoned;
            }
            Require(_vmm.AnonFrames[op.Page] == poisoned, "HWPOISON ok but the VMM has no hwpoison entry");
        }

        /// <summary>K20: the contents move to a new frame; nothing observable changes and nobody is signalled.</summary>
        private void SoftOffline(Op op)
        {
            var outcome = _m.Madvise(GpaOf(op.Page), TestMachine.Page, "SOFT_OFFLINE", VmNames[op.Vm]);
            if (!_vmm.Mapped[op.Vm, op.Page])
            {
                RequireError(Errno.ENOMEM, outcome);
                return;
            }
            var frame = FrameFor(_vmm, op.Vm, op.Page);
            if (frame is { Poisoned: true })
            {
                RequireError(Errno.EFAULT, outcome);
                return;
            }
            if (frame is null && outcome.Kind == OutcomeKind.Errno)
            {
                RequireError(Errno.EBUSY, outcome);
                var pte = _vmm.Sim.PageTable.Lookup(Hva(op.Vm, op.Page), out _);
                Require(pte.IsPresent && pte.Pfn == FrameAllocator.ZeroPage, $"EBUSY but the VMM maps {pte}, not the zero page");
                return;
            }
            Require(outcome.Kind == OutcomeKind.Ok, $"SOFT_OFFLINE gave {outcome}");
        }

        private void RequireUnmapped(Outcome outcome, bool guest)
        {
            if (guest) RequireError(Errno.EFAULT, outcome);
            else Require(outcome.Kind == OutcomeKind.Killed && outcome.Signal == "SIGSEGV", $"expected SIGSEGV, got {outcome}");
        }

        private void RequireSigBusAr(Outcome outcome, ulong? address)
            => Require(outcome.Kind == OutcomeKind.SigBus && outcome.SigBusCode == SigBusCode.BUS_MCEERR_AR && outcome.Lsb == 12
                && (address is null || outcome.Address.Value == address), $"expected SIGBUS BUS_MCEERR_AR lsb 12 at 0x{address:x}, got {outcome}");

        private void RequireError(Errno errno, Outcome outcome)
            => Require(outcome.Kind == OutcomeKind.Errno && outcome.Errno == errno, $"expected {errno}, got {outcome}");

        private void RequireNothingMapped(Process p, ulong start, ulong size, string when)
        {
            var left = new List<string>();
            p.PageTable.Visit(start, size == ulong.MaxValue ? ulong.MaxValue : start + size, (va, entry, _) =>
            {
                left.Add($"0x{va:x}={entry}");
                return true;
            });
            Require(left.Count == 0, $"{when}: still mapped in pid {p.Pid}: {string.Join(", ", left)}");
        }

        private void CheckInvariants()
        {
            var k = _m.Kernel;
            var inUse = 0L;
            for (ulong i = 0; i < (ulong)k.Mm.Frames.Count; i++)
            {
                var pfn = new Pfn(i);
                var (refs, maps) = (k.Mm.Frames.RefCountOf(pfn), k.Mm.Frames.MapCountOf(pfn));
                if (refs < 0 || maps < 0 || k.Mm.Frames.PinCountOf(pfn) < 0 || k.Mm.Frames.HwpEntryRefsOf(pfn) < 0)
                    Fail($"{pfn}: negative count (ref {refs}, map {maps})");
                if (k.Mm.Frames.Has(pfn, FrameFlags.InUse)) inUse++;
                else if (refs != 0 || maps != 0) Fail($"{pfn}: free but ref {refs} map {maps}");
            }
            Require(inUse == k.Mm.Allocator.AllocatedFrames, $"{inUse} frames marked in use, allocator counts {k.Mm.Allocator.AllocatedFrames}");

            var leaves = 0;
            foreach (var p in k.Processes.Where(p => p.Alive))
            {
                p.PageTable.Visit(0, ulong.MaxValue, (va, entry, size) =>
                {
                    if (!entry.MapsFrame || entry.Pfn == FrameAllocator.ZeroPage) return true;
                    leaves++;
                    var pfn = entry.Pfn;
                    if (!k.Mm.Frames.Has(pfn, FrameFlags.InUse)) Fail($"pid {p.Pid} 0x{va:x} maps {pfn}, which is not in use");
                    if (k.Mm.MapCount(pfn) <= 0) Fail($"pid {p.Pid} 0x{va:x} maps {pfn} with mapcount {k.Mm.MapCount(pfn)}");
                    if (k.Mm.RefCount(pfn) <= 0) Fail($"pid {p.Pid} 0x{va:x} maps {pfn} with refcount {k.Mm.RefCount(pfn)}");
                    if (size == MappingSize.Size2M && !k.Mm.Frames.Has(pfn, FrameFlags.Compound)) Fail($"pid {p.Pid} 0x{va:x}: a 2 MiB leaf to {pfn}, which is not compound");
                    if (!k.Mm.Mappings(pfn).Contains((p.Pid, new Hva(va)))) Fail($"pid {p.Pid} 0x{va:x} maps {pfn} but the rmap does not say so");
                    return true;
                });
            }
            Require(leaves == k.Mm.Rmap.LiveNodes, $"{leaves} mapped leaves but {k.Mm.Rmap.LiveNodes} rmap nodes");
        }

        private void TearDownAndCheckNothingLeaked()
        {
            _op = default;
            foreach (var child in _children) _m.Kernel.Syscalls.Exit(child.Sim);
            Require(_m.Run("host.exit", null).Kind == OutcomeKind.Ok, "host.exit failed");
            Require(_m.Run("vm.destroy", VmNames[Anon]).Kind == OutcomeKind.Ok, "vm.destroy anon failed");
            Require(_m.Run("vm.destroy", VmNames[Shm]).Kind == OutcomeKind.Ok, "vm.destroy shm failed");
            CheckInvariants();

            var k = _m.Kernel;
            var leaked = 0;
            for (ulong i = 1; i < (ulong)k.Mm.Frames.Count; i++)
            {
                var pfn = new Pfn(i);
                if (k.Mm.Frames.Has(pfn, FrameFlags.InUse))
                {
                    Require(k.Mm.Frames.Has(pfn, FrameFlags.HwPoison), $"{pfn} is still allocated after teardown (ref {k.Mm.Frames.RefCountOf(pfn)})");
                    leaked++;
                }
            }
            Require(k.Mm.Rmap.LiveNodes == 0, $"{k.Mm.Rmap.LiveNodes} rmap nodes after teardown");
            Require(leaked == _poisonedFrames, $"{leaked} poisoned frames leaked, {_poisonedFrames} were poisoned");
            Require(k.Mm.Allocator.AllocatedFrames == 1 + leaked, $"allocator counts {k.Mm.Allocator.AllocatedFrames} frames, expected 1 + {leaked}");
        }

        private void Require(bool condition, string message)
        {
            if (!condition) Fail(message);
        }

        private void Fail(string message) => throw new InvalidOperationException($"step {_step} {_op}: {message}");
    }
}
