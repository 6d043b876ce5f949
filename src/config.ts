/**
 * Every hyperparameter of an ALOCC run, in one place. The whole object is saved in each run file and compared on
 * resume, so a checkpoint always says exactly how it was made.
 */
export interface ModelConfig {
  /** Side of the square input image, pixels. MNIST: 28. */
  inputSize: number;
  /** Image channels. MNIST: 1 (grey). */
  channels: number;
  /** Base filter count of the discriminator D (the reference's df_dim). D uses 1×, 2×, 4×, 8× this. */
  dfDim: number;
  /** Base filter count of the reconstructor R's decoder (the reference's gf_dim). */
  gfDim: number;
}

/** Where a run's normal images come from (`--dataset`, `--data`). */
export const DATASETS = ['mnist', 'fashion-mnist', 'folder'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** What the knn features keep of each cell (TrainConfig.cellPooling, `--cell-pooling`). */
export const CELL_POOLINGS = ['mean', 'mean-max'] as const;
export type CellPooling = (typeof CELL_POOLINGS)[number];

/**
 * The novelty scores a run can choose as its verdict (`--score`); larger is more novel for each.
 * - bce: BCE(R(x), x), mean over pixels: the loss R trains on (the seed's score). Its floor is the image's own
 *   pixel entropy, so images with little ink (a thin 1) look normal whatever R does.
 * - kl: BCE − H(x) = KL(x ‖ R(x)) per pixel: BCE without that floor.
 * - mse: mean squared error over pixels.
 * - ink: ‖R(x) − x‖² / ‖x‖², the share of the image's own energy R gets wrong.
 * - knn: mean cosine distance from x to its `neighbours` nearest training images in the features of R's first
 *   encoder block (src/score/feature-memory.ts): novelty as distance from what R was trained on, in R's own terms.
 */
export const NOVELTY_SCORES = ['bce', 'kl', 'mse', 'ink', 'knn', 'rotation', 'knnRotation'] as const;
export type NoveltyScore = (typeof NOVELTY_SCORES)[number];
/**
 * The scores that need the rotation net (TrainConfig.rotationPasses > 0): 'rotation', GEOM's score, −mean over the four
 * quarter turns of log p(that turn) in the rotation net (src/score/rotation-score.ts): a normal picture's turn is told
 * confidently, a novel one's is not; 'knnRotation', the knn distance and the rotation score each standardised on the
 * validation pictures (mean and sd at that epoch) and summed, the rotation part capped (TrainConfig.rotationCap).
 */
export const ROTATION_SCORES = ['rotation', 'knnRotation'] as const satisfies readonly NoveltyScore[];
export type RotationScore = (typeof ROTATION_SCORES)[number];
/** The novelty scores every run computes. */
export const BASE_SCORES = ['bce', 'kl', 'mse', 'ink', 'knn'] as const satisfies readonly NoveltyScore[];
export type BaseScore = (typeof BASE_SCORES)[number];
/** The novelty scores a run with `train` computes and records at every epoch. */
export function scoresOfRun(train: Pick<TrainConfig, 'rotationPasses'>): NoveltyScore[] {
  return train.rotationPasses > 0 ? [...BASE_SCORES, ...ROTATION_SCORES] : [...BASE_SCORES];
}

/**
 * Which memory cells an anomaly map compares a picture's cell with (TrainConfig.cellNeighbourhood): those at the same
 * position ('position', PaDiM-like) or at any position ('pooled', PatchCore). src/score/cell-map.ts.
 */
export const CELL_NEIGHBOURHOODS = ['position', 'pooled'] as const;
export type CellNeighbourhood = (typeof CELL_NEIGHBOURHOODS)[number];

/** What the rotation net sees of a training picture (TrainConfig.rotationAugment). */
export const ROTATION_AUGMENTS = ['none', 'flip-shift'] as const;
export type RotationAugment = (typeof ROTATION_AUGMENTS)[number];

/** Where the networks' BatchNorm inference statistics come from (TrainConfig.batchNormStatistics). */
export const BATCHNORM_STATISTICS = ['moving', 'pictures'] as const;
export type BatchNormStatistics = (typeof BATCHNORM_STATISTICS)[number];

/** Fashion-MNIST's class names, by class number. */
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

export interface DataConfig {
  /** mnist, fashion-mnist: a built-in set whose class `class` is normal; folder: every image below `folder` is. */
  source: DatasetName;
  /** The normal class of a built-in set, 0-9; null for a folder. */
  class: number | null;
  /** The folder trained on, as an absolute path, for the record: scoring and evaluating never read it. */
  folder: string | null;
}

/**
 * How any picture becomes the network's input; saved in the run so that score and eval prepare pictures exactly as
 * training did. The size and channels are the model's (ModelConfig.inputSize, channels).
 */
export interface PreprocessingConfig {
  /** To a square: 'fill' stretches, 'cover' crops the centre, 'contain' pads with the border colour. */
  resize: 'fill' | 'cover' | 'contain';
  /** 'auto' inverts dark-on-light pictures (MNIST-style sets are light on dark); 'never' for photographs. */
  invert: 'auto' | 'never';
  /** 'mnist' crops a drawing to its strokes and frames it as MNIST digits were; 'auto' does so unless already size×size. */
  fit: 'none' | 'mnist' | 'auto';
}

/** Input sides (pixels) the networks are built for: R's output has its input's shape at every one (test/models.test.ts). */
export const MIN_INPUT_SIZE = 16;
export const MAX_INPUT_SIZE = 256;
/** Side a folder run's pictures are resized to unless --size says otherwise. */
export const DEFAULT_FOLDER_SIZE = 64;

export interface TrainConfig {
  /** Passes over the training images. */
  epochs: number;
  /**
   * Most target images per step. A folder too small for four steps an epoch at this size trains with the largest power
   * of two that gives four (stepBatchSize): 166 pictures take batches of 32, not a refusal.
   */
  batchSize: number;
  /** Weight of the reconstruction BCE in R's loss (the reference's r_alpha); the adversarial BCE has weight 1. */
  rAlpha: number;
  /** RMSprop learning rate, for both R and D. */
  learningRate: number;
  /** Each gradient element is clipped to [-clipValue, clipValue] before the update (Keras clipvalue). */
  clipValue: number;
  /** Standard deviation of the Gaussian noise added to R's input, in pixel units ([0, 1] scale). */
  noiseStd: number;
  /**
   * How the training BCEs are computed: 'logits' from the pre-sigmoid outputs (exact, never a zero gradient), or
   * 'clipped' from probabilities clipped to [1e-7, 1 − 1e-7] as Keras does (saturated outputs stop learning; see
   * models/logits.ts). Runs made before the option used 'clipped'.
   */
  bce: 'logits' | 'clipped';
  /** R updates per D update on the same noisy batch. */
  rStepsPerBatch: number;
  /** Share of the target digit's training images held out for validation and threshold calibration, 0-1. */
  validationFraction: number;
  /** Percentile (0-100) of the validation images' novelty scores used as the novelty threshold. */
  thresholdPercentile: number;
  /**
   * The score behind the verdict: the threshold is calibrated on it and the best epoch is the one with its lowest
   * validation mean. Every epoch records all four, so this can be changed afterwards only by retraining the choice
   * of epoch, not the networks. Runs made before the option existed used 'bce'.
   */
  noveltyScore: NoveltyScore;
  /**
   * Nearest training images the knn score averages over. 10: over the coreset memory, 10 ranks better than 5 on both
   * data sets (docs/research.md, "Cell maxima and ten neighbours"); runs made before that used 5.
   */
  neighbours: number;
  /**
   * What the knn features keep of each cell of R's dense first-block map: its 'mean', or its 'mean-max', the mean and
   * the maximum (each half unit length): a stroke or edge anywhere in the cell then counts at its full strength, and it
   * ranks better on both built-in data sets (docs/research.md, "Cell maxima and ten neighbours"). Runs of run-file
   * version 4 and earlier: 'mean'.
   */
  cellPooling: CellPooling;
  /**
   * Where R's BatchNorm statistics for inference come from: 'moving', the moving averages training kept (as Keras
   * does), or 'pictures', set at the end of every epoch to the exact statistics of the clean stored training pictures
   * (models/batchnorm-statistics.ts). R trains on noisy pictures, so its moving averages describe inputs that scoring
   * never sees; on colour pictures the kNN verdict lost most of its ranking to that mismatch. D keeps its moving
   * averages of real and fake batches either way: they are what D(x) and D(R(x)) were trained to read (docs/research.md, "BatchNorm statistics of the clean pictures"). Training itself is the
   * same either way: in training mode BatchNorm normalises with each batch's own statistics. Runs of run-file
   * version 5 and earlier: 'moving'.
   */
  batchNormStatistics: BatchNormStatistics;
  /**
   * Training images the knn memory keeps at most (a seeded sample of the training images when there are more), so
   * that scoring time and disk per run stay bounded whatever the folder's size. Runs made before the option: 0, all.
   */
  memorySize: number;
  /**
   * Training images the knn memory keeps at each epoch: a greedy k-centre coreset of all training images in R's
   * features at that epoch (src/score/coreset.ts), which ranks better than a sample and scores faster (docs/research.md,
   * "A coreset memory"). 0: the stored sample of memorySize images itself, as runs of run-file version 3 did.
   */
  memoryCoreset: number;
  /**
   * The anomaly maps' neighbourhood: 'position' is 35 times cheaper than 'pooled' and located defects better on
   * MNIST and Fashion-MNIST (bench/NOTES.md, anomaly maps). Runs of run-file version 6 and earlier: 'position'.
   */
  cellNeighbourhood: CellNeighbourhood;
  /**
   * The local score (`local`): the mean of a picture's localTopK largest cell distances. Its threshold, and the maps'
   * colour scale, are calibrated on the validation pictures at every epoch (src/score/cell-calibration.ts).
   * docs/research.md, "A local score". Runs of run-file version 6 and earlier: 3.
   */
  localTopK: number;
  /**
   * Weight of the rotation net's cells in the maps' and the local score's cell vectors, beside R's first-block cells
   * (src/score/cell-part.ts): each cell is [R's cells | w · the rotation net's second block at that cell], each part
   * unit length, over √(1 + w²). R's first block ranks nearly as well untrained; the rotation net's cells are what
   * training earns. 0.7: on the localisation benchmark's five MNIST digits, five Fashion-MNIST classes and five emoji
   * groups, defects are found and located better on average in each of the three (1 loses on the emoji;
   * docs/research.md, "The rotation net's cells in the maps"). 0, or a run without a rotation net: R's cells alone, as
   * runs of run-file version 9 and earlier.
   */
  cellRotationWeight: number;
  /**
   * Weight V of each map cell's own pixels beside the network's cells (src/score/cell-pixels.ts): a cell is [the
   * network parts (unit) | V · its pixels / √values], searched by Euclidean distance, its distance (1 − cos of the
   * network parts) + V² · (the pixels' mean squared difference) / 2. The network's cells round away a pasted patch's
   * or a scar's exact colours and strokes, which the pixels keep; the network's cells keep telling a shifted stroke
   * from a foreign one, which pixels alone cannot. Cells of more than 64 pixel values are averaged first (64×64×3: over
   * 2×2). DEFAULT_CELL_PIXEL_WEIGHT says how it was chosen. 0: the network's cells alone, as runs of run-file version
   * 10 and earlier.
   */
  cellPixelWeight: number;
  /**
   * The rotation net (src/models/rotation-net.ts), a small classifier of its own trained beside R and D to tell which
   * of the four quarter turns was applied to a normal picture: passes over the epoch's training pictures it makes per
   * ALOCC epoch (0: no rotation net, and the rotation scores are not computed). docs/research.md, "A rotation
   * classifier beside R and D". 2: five epochs give ten passes, as measured. A run whose verdict is not a rotation
   * score trains none unless --rotation-passes says (run/start.ts settleRotationNet). Runs of run-file version 7 and
   * earlier: 0.
   */
  rotationPasses: number;
  /** Pictures per rotation step (each in its four turns, so 4× as many inputs). */
  rotationBatchSize: number;
  /**
   * Filters of the rotation net's first block; the next three have 2×, 4× and 8× as many. 8: on the colour benchmark
   * as good as the probe's 32 (three seeds) at a sixteenth of the arithmetic, so scoring stays near the knn verdict's
   * speed (docs/research.md, "The rotation net in alocc"). Runs of run-file version 7 and earlier: 32 (unused: none).
   */
  rotationFilters: number;
  /**
   * What the rotation net sees of a training picture: the picture itself ('none'), or 'flip-shift', mirrored
   * left-right at random and shifted by up to an eighth of its side (src/train/rotation-augment.ts).
   */
  rotationAugment: RotationAugment;
  /** The rotation net's Adam learning rate. */
  rotationLearningRate: number;
  /**
   * knnRotation's rotation part is capped at this many validation sds (null: uncapped). A normal picture the rotation
   * net happens to turn wrongly gets a huge GEOM score; uncapped it outranks every novel picture, and on MNIST digit 8
   * that cost 0.007 AUROC. 2: on MNIST, Fashion-MNIST and the colour benchmark (three seeds each) at or above the
   * uncapped sum (docs/research.md, "Capping the rotation part"). Runs of run-file version 8 and earlier: null.
   */
  rotationCap: number | null;
  /** Seed for weight initialisation, the validation split, shuffling and noise. */
  seed: number;
  /** Train on at most this many target images (0: all); for quick runs and tests. */
  limit: number;
}

export interface RunConfig {
  data: DataConfig;
  model: ModelConfig;
  preprocessing: PreprocessingConfig;
  train: TrainConfig;
}

/**
 * Named recipes (`--preset`): the settings that decide what R learns and how novelty is scored. Options typed on
 * the command line override a preset's values.
 * - seed: the Keras reference exactly (R's loss mostly adversarial, r_alpha 0.2; clipped BCE) scored by its BCE.
 * - seed-logits: the same with the BCEs computed from logits.
 * - recon-weighted: R's loss mostly reconstruction (r_alpha 10) at a quarter of the learning rate,
 *   BCE from logits, scored by KL(x ‖ R(x)); D still trains against R and R against D. Measured on all ten digits
 *   (docs/research.md, "Full-data runs"): mean AUROC 0.872 against 0.688 for seed and 0.822 for seed-logits.
 * - recon-knn: recon-weighted's training, scored by the knn distance in R's features (src/score/feature-memory.ts),
 *   which on the same checkpoints ranks far better than any reconstruction error.
 * - recon-knn-rotation (the default): recon-knn's training with the rotation net beside R and D, scored by
 *   knnRotation. Measured on MNIST, Fashion-MNIST and the colour benchmark, three seeds each: above recon-knn on each
 *   mean, and the only one of the two that beats the untrained networks by more than 0.002 (docs/research.md, "One
 *   default for every picture").
 */
export const PRESETS = {
  seed: { rAlpha: 0.2, learningRate: 0.002, noveltyScore: 'bce', bce: 'clipped', batchNormStatistics: 'moving' },
  'seed-logits': { rAlpha: 0.2, learningRate: 0.002, noveltyScore: 'bce', bce: 'logits', batchNormStatistics: 'moving' },
  'recon-weighted': { rAlpha: 10, learningRate: 0.0005, noveltyScore: 'kl', bce: 'logits', batchNormStatistics: 'moving' },
  'recon-knn': { rAlpha: 10, learningRate: 0.0005, noveltyScore: 'knn', bce: 'logits', batchNormStatistics: 'pictures' },
  'recon-knn-rotation': { rAlpha: 10, learningRate: 0.0005, noveltyScore: 'knnRotation', bce: 'logits', batchNormStatistics: 'pictures' },
} as const satisfies Record<string, RecipeSettings>;
/** The settings a preset names. */
export type RecipeSettings = Pick<TrainConfig, 'rAlpha' | 'learningRate' | 'noveltyScore' | 'bce' | 'batchNormStatistics'>;
export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
/** The recipe a run gets when no --preset is given. */
export const DEFAULT_PRESET: PresetName = 'recon-knn-rotation';

export const DEFAULT_MODEL_CONFIG: ModelConfig = { inputSize: 28, channels: 1, dfDim: 16, gfDim: 16 };

/** MNIST and Fashion-MNIST: 28×28 light-on-dark grey; drawings and scans are inverted and framed like MNIST digits. */
export const BUILT_IN_PREPROCESSING: PreprocessingConfig = { resize: 'contain', invert: 'auto', fit: 'auto' };
/** A folder of pictures: stretched to the square, never inverted or framed. */
export const FOLDER_PREPROCESSING: PreprocessingConfig = { resize: 'fill', invert: 'never', fit: 'none' };

/**
 * TrainConfig.cellPixelWeight's default. On the localisation benchmark (bench/localisation), the default recipe at
 * seeds 42, 1 and 2, V 1.5 against V 0: four grey classes +0.006 image AUROC / +0.005 pixel AUROC / +0.007 PRO, five
 * emoji groups +0.039 / +0.016 / +0.046. The digits do best near 1 (MNIST 8 loses from 2), the emoji near 2-3; 1.5 is
 * one weight for both (docs/research.md, "Raw pixels in the map cells, built").
 */
export const DEFAULT_CELL_PIXEL_WEIGHT = 1.5;

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 5,
  batchSize: 128,
  rAlpha: PRESETS[DEFAULT_PRESET].rAlpha,
  learningRate: PRESETS[DEFAULT_PRESET].learningRate,
  clipValue: 1.0,
  noiseStd: 0.155,
  bce: PRESETS[DEFAULT_PRESET].bce,
  rStepsPerBatch: 2,
  validationFraction: 0.1,
  thresholdPercentile: 95,
  noveltyScore: PRESETS[DEFAULT_PRESET].noveltyScore,
  neighbours: 10,
  cellPooling: 'mean-max',
  batchNormStatistics: PRESETS[DEFAULT_PRESET].batchNormStatistics,
  memorySize: 4096,
  memoryCoreset: 1000,
  cellNeighbourhood: 'position',
  localTopK: 3,
  cellRotationWeight: 0.7,
  cellPixelWeight: DEFAULT_CELL_PIXEL_WEIGHT,
  rotationPasses: 2,
  rotationBatchSize: 32,
  rotationFilters: 8,
  rotationAugment: 'none',
  rotationLearningRate: 0.001,
  rotationCap: 2,
  seed: 42,
  limit: 0,
};

/** Fewest steps an epoch takes when the training set is small (stepBatchSize). */
export const MIN_STEPS_PER_EPOCH = 4;
/** Fewest images per step: a folder needs two steps of them to train at all. */
export const MIN_STEP_BATCH = 4;

/**
 * Images per step for `trainImages` training images: batchSize, or for a set too small to give MIN_STEPS_PER_EPOCH
 * steps at that size, the largest power of two that does (at least MIN_STEP_BATCH). Decided by the training set's size alone, so a
 * resumed run takes the same batches. MNIST's and Fashion-MNIST's 5,400 images a class keep 128.
 */
export function stepBatchSize(trainImages: number, batchSize: number): number {
  if (trainImages >= MIN_STEPS_PER_EPOCH * batchSize) return batchSize;
  return Math.max(MIN_STEP_BATCH, 2 ** Math.floor(Math.log2(Math.max(1, trainImages / MIN_STEPS_PER_EPOCH))));
}

/** Fields a resumed run may change: only how long it trains. */
export const RESUMABLE_CHANGES: (keyof TrainConfig)[] = ['epochs'];

/** "field (run X, now Y)" for every field that differs between a saved config and the requested one. */
export function configDifferences(saved: RunConfig, requested: RunConfig): string[] {
  const out: string[] = [];
  for (const section of ['data', 'model', 'preprocessing', 'train'] as const) {
    const a = saved[section] as unknown as Record<string, unknown>;
    const b = requested[section] as unknown as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (section === 'train' && (RESUMABLE_CHANGES as string[]).includes(key)) continue;
      if (a[key] !== b[key]) out.push(`${key} (run ${JSON.stringify(a[key])}, now ${JSON.stringify(b[key])})`);
    }
  }
  return out;
}
